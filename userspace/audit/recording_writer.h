// Writes one session's recording (recording_format.h). The engine's recording
// thread owns one writer per session: append() each record as it comes,
// flush() after each batch (one signed block, one write), close() when the
// session ends. Nothing here throws or aborts: a full disk is an error the
// caller sees and decides about. Not thread-safe: one thread per writer.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "audit/recording_format.h"
#include "audit/recording_keys.h"
#include "common/result.h"

namespace pgw::audit {

struct WriterOptions {
  // zstd-compress a block when it is at least compress_min_bytes and comes
  // out smaller; the flag is per block, so a reader needs no setting.
  bool compress = true;
  int compression_level = 3;
  size_t compress_min_bytes = 512;
  // The session's start, for the file name and the header's start_time
  // (default: now).
  std::optional<std::chrono::system_clock::time_point> start_time;
  // The same moment on CLOCK_MONOTONIC, the header record's timestamp
  // (default: now). Record times count from it in replays, so a writer made
  // after the session's first bytes were captured passes the start here.
  std::optional<uint64_t> start_monotonic_ns;
};

class RecordingWriter {
 public:
  // Creates DIR/<UTC start>-<session id>.pgwrec (O_CREAT|O_EXCL, mode 0600)
  // and writes the preamble and the header record as the first signed
  // block. `header` is a JSON object (identity, upstream, database, startup
  // parameters, pgwarden version, policy hash, ...: docs/recording-format.md);
  // the writer adds session_id, start_time, recording_format and
  // key_fingerprint. `session_id` is letters, digits, '.', '_' and '-'.
  static Result<std::unique_ptr<RecordingWriter>> create(const std::string& dir, std::string_view session_id,
                                                         const nlohmann::json& header,
                                                         std::shared_ptr<const SigningKey> key,
                                                         const WriterOptions& options = {});
  ~RecordingWriter();  // closes the descriptor; without close() the file reads as truncated
  RecordingWriter(const RecordingWriter&) = delete;
  RecordingWriter& operator=(const RecordingWriter&) = delete;

  // Buffers one record (hashing it into the chain). Does no I/O. Errors: a
  // payload over kMaxPayload, a block that would pass kMaxBlockRaw (flush
  // first), a closed writer.
  Status append(RecordType type, uint64_t monotonic_ns, std::string_view payload);
  // Writes the buffered records as one signed block with one write. On an
  // error (ENOSPC, EIO...) the file is cut back to its last whole block and
  // the records stay buffered, so a later flush may still write them.
  Status flush();
  // fsync of the file (and, the first time, of its directory).
  Status sync();
  // Writes the buffered records as the last block, signed as the close, and
  // fsyncs. Afterwards every call but path() fails.
  Status close();

  const std::string& path() const { return path_; }
  uint64_t records_written() const { return written_records_; }  // in blocks on disk
  uint64_t records_buffered() const { return pending_records_; }
  size_t bytes_buffered() const { return pending_.size(); }
  uint64_t file_size() const { return committed_size_; }
  // errno of the last failed write/fsync (ENOSPC...), 0 when none failed.
  int last_errno() const { return last_errno_; }

 private:
  RecordingWriter() = default;
  Status write_block(uint8_t sign_kind);
  Status io_error(const char* what, int err);

  std::shared_ptr<const SigningKey> key_;
  WriterOptions options_;
  std::string path_;
  std::string dir_;
  int fd_ = -1;
  bool closed_ = false;
  bool broken_ = false;  // the file could not be cut back after a failed write
  bool dir_synced_ = false;
  int last_errno_ = 0;
  unsigned char file_id_[kFileIdSize] = {};
  unsigned char head_[kHashSize] = {};  // hash of the last appended record
  uint64_t committed_size_ = 0;         // bytes of whole blocks on disk
  uint64_t written_records_ = 0;
  uint64_t pending_records_ = 0;
  std::string pending_;     // the buffered records, uncompressed (reused)
  std::string compressed_;  // the zstd frame of a compressed block (reused)
  struct Hasher;
  std::unique_ptr<Hasher> hasher_;
  struct Compressor;
  std::unique_ptr<Compressor> zstd_;
};

// The file name a recording of `session_id` started at `start` gets:
// 20240611T101500.123456789Z-<session id>.pgwrec (sorts by start time).
std::string recording_file_name(std::chrono::system_clock::time_point start, std::string_view session_id);

}  // namespace pgw::audit
