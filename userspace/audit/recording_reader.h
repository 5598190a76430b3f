// Reads and verifies a session recording (recording_format.h). The reader
// hands out a block's records only once the whole block checked out: its
// hash chain, and its signature when a public key is given. So what it
// returns from a damaged or truncated file is exactly the good, signed prefix;
// the first problem ends the reading and is described in report(). Every
// length in the file is checked against the file and the format's limits
// before it is used: garbage makes a report, never a crash.
#pragma once

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

struct Record {
  uint64_t index = 0;  // 0 is the header
  RecordType type = RecordType::header;
  uint64_t monotonic_ns = 0;
  std::string_view payload;  // valid until the next call to next()
  // Where the record starts in the file; in a compressed block, where the
  // block starts (the record itself is inside the compressed body).
  uint64_t offset = 0;
  bool compressed = false;
};

struct BadRecord {
  uint64_t index = 0;   // the first record that is not good (0-based; 0 is the header)
  uint64_t offset = 0;  // where it (or, in a compressed block, its block) starts in the file
};

struct VerifyReport {
  bool ok = false;             // every record verified and the file was closed cleanly
  bool authenticated = false;  // signatures were checked (a public key was given)
  bool closed = false;         // the close signature was reached
  bool in_use = false;         // a writer still holds the file: a live session, not a truncation
  bool truncated = false;      // the only problem is that it ends without a close signature
  uint64_t records = 0;        // records verified (signed when authenticated)
  std::optional<uint64_t> last_good_record;
  std::optional<BadRecord> first_bad_record;
  // Whole records after the last signature whose hash chain holds (a
  // crashed writer's last block): present but not signed, so not verified.
  uint64_t unsigned_records = 0;
  std::string problem;     // one sentence; empty when ok
  std::string session_id;  // from the header, once it verified
};

class RecordingReader {
 public:
  // Opens `path` and reads its first block (the header). A file that cannot
  // be opened is an error; a file that is not a good recording opens and
  // says why in report(). Without a key only the hash chain is checked.
  static Result<std::unique_ptr<RecordingReader>> open(const std::string& path, const PublicKey* key);
  ~RecordingReader();
  RecordingReader(const RecordingReader&) = delete;
  RecordingReader& operator=(const RecordingReader&) = delete;

  // The next verified record, header first; false at the end or at the
  // first problem (then report() says which).
  bool next(Record& out);
  // Following a live recording: once next() returned false at the end of a
  // file that is not closed (report().truncated: the writer had not written
  // more yet), looks again at the file's size and at whether a writer still
  // holds it. True when the file grew, so next() may hand out more records;
  // false when it did not, or the reading ended at a real problem.
  bool resume();
  // The header record's JSON (null until it verified).
  const nlohmann::json& header() const;
  // So far; final once next() returned false.
  const VerifyReport& report() const { return report_; }

 private:
  struct Impl;
  explicit RecordingReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  VerifyReport& report_;
};

// Reads the whole file with `key` and reports on it. Never fails: a file
// that cannot be opened is a report with a problem.
VerifyReport verify_recording(const std::string& path, const PublicKey& key);

}  // namespace pgw::audit
