#include "audit/recording_reader.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <nlohmann/json.hpp>
#include <zstd.h>

#include "audit/sha256.h"
#include "common/quote.h"

namespace pgw::audit {

namespace {

bool read_at(int fd, void* buf, size_t n, uint64_t offset) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

// A writer holds an exclusive lock while it writes.
bool held_by_writer(int fd) {
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) return errno == EWOULDBLOCK;
  ::flock(fd, LOCK_UN);
  return false;
}

std::string rec(uint64_t index) { return "record " + std::to_string(index); }

}  // namespace

struct RecordingReader::Impl {
  int fd = -1;
  uint64_t size = 0;
  uint64_t offset = kPreambleSize;  // of the next block
  std::optional<PublicKey> key;
  unsigned char file_id[kFileIdSize] = {};
  unsigned char head[kHashSize] = {};  // hash of the last verified record
  uint64_t count = 0;                  // records verified
  bool any_signature_verified = false;
  bool preamble_read = false;
  bool done = false;
  std::string raw;     // the current block's body, uncompressed
  std::string stored;  // its compressed body
  std::vector<Record> records;
  size_t position = 0;
  nlohmann::json header;
  VerifyReport report;
  Sha256 sha;
  ZSTD_DCtx* zstd = nullptr;

  ~Impl() {
    if (fd >= 0) ::close(fd);
    ZSTD_freeDCtx(zstd);
  }

  bool fail(uint64_t index, uint64_t at, std::string problem) {
    report.first_bad_record = BadRecord{index, at};
    report.problem = std::move(problem);
    report.ok = false;
    done = true;
    records.clear();  // what was parsed of this block is not verified: none of it is handed out
    position = 0;
    return false;
  }

  std::string signed_so_far() const {
    return count == 0 ? "no record is signed" : "records up to " + std::to_string(count - 1) + " are signed";
  }

  bool read_preamble() {
    unsigned char pre[kPreambleSize];
    const size_t have = size < kPreambleSize ? static_cast<size_t>(size) : kPreambleSize;
    if (!read_at(fd, pre, have, 0)) return fail(0, 0, "cannot read the file: " + std::string(std::strerror(errno)));
    if (have == 0) return fail(0, 0, "the file is empty: not a recording, or its writer stopped at once");
    const size_t magic = have < kFileMagic.size() ? have : kFileMagic.size();
    if (std::memcmp(pre, kFileMagic.data(), magic) != 0) {
      if (magic >= 7 && std::memcmp(pre, "PGWREC ", 7) == 0) {
        std::string_view version(reinterpret_cast<char*>(pre) + 7, magic - 7);
        version = version.substr(0, version.find('\n'));
        return fail(0, 0, "recording format " + quote_for_message(version) + " is not one this pgwarden reads (1)");
      }
      return fail(0, 0, "not a pgwarden recording (no PGWREC 1 line at the start)");
    }
    if (have < kPreambleSize) return fail(0, 0, "file ends inside its preamble: truncated (no record is signed)");
    std::memcpy(file_id, pre + kFileMagic.size(), kFileIdSize);
    std::memcpy(head, file_id, kHashSize);
    preamble_read = true;
    return true;
  }

  // Checks the records of a block body (`avail` of its `len` bytes are
  // there) against the chain, filling `records`. False with the problem set
  // on a broken chain or a damaged body; `parsed` and `bytes` tell how far
  // it got, `chain` the hash of the last good record.
  bool parse_records(uint64_t block_at, bool compressed, uint32_t expected, size_t avail, bool whole,
                     unsigned char chain[kHashSize], uint64_t& parsed, size_t& bytes) {
    records.clear();
    position = 0;
    parsed = 0;
    bytes = 0;
    const auto* base = reinterpret_cast<const unsigned char*>(raw.data());
    while (bytes < avail) {
      const uint64_t index = count + parsed;
      const uint64_t at = compressed ? block_at : block_at + kBlockHeaderSize + bytes;
      const size_t left = avail - bytes;
      if (parsed >= expected) {
        return fail(index, at, rec(index) + ": the block at offset " + std::to_string(block_at) +
                                   " holds more than the " + std::to_string(expected) +
                                   " records its header says (damaged or inserted bytes)");
      }
      if (left < kRecordHeadSize) {
        if (!whole) return true;  // truncated inside this record
        return fail(index, at,
                    rec(index) + ": damaged (cut short at the end of its block: edited, deleted or inserted bytes)");
      }
      const unsigned char* p = base + bytes;
      const uint32_t len = get_u32(p + 9);
      if (len > kMaxPayload || left - kRecordHeadSize < static_cast<size_t>(len) + kHashSize) {
        if (!whole && len <= kMaxPayload) return true;
        return fail(index, at,
                    rec(index) +
                        ": damaged (its length runs past the end of its block: edited, deleted or inserted bytes)");
      }
      unsigned char h[kHashSize];
      if (!sha.hash2(chain, kHashSize, p, kRecordHeadSize + len, h)) return fail(index, at, "SHA-256 failed");
      if (std::memcmp(h, p + kRecordHeadSize + len, kHashSize) != 0) {
        return fail(index, at, rec(index) + ": hash chain broken (edited, deleted, reordered or inserted record)");
      }
      const auto type = static_cast<RecordType>(p[0]);
      if (index == 0 && type != RecordType::header) {
        return fail(index, at, "record 0 is not the header (damaged)");
      }
      if (index != 0 && (type == RecordType::header || p[0] == 0)) {
        return fail(index, at, rec(index) + ": a record of type " + std::to_string(p[0]) + " here (damaged)");
      }
      Record r;
      r.index = index;
      r.type = type;
      r.monotonic_ns = get_u64(p + 1);
      r.payload = std::string_view(reinterpret_cast<const char*>(p + kRecordHeadSize), len);
      r.offset = at;
      r.compressed = compressed;
      records.push_back(r);
      std::memcpy(chain, h, kHashSize);
      bytes += kRecordOverhead + len;
      ++parsed;
    }
    return true;
  }

  // Loads, checks and verifies the next block. False when there is none to
  // read: at the clean end (report.ok) or at a problem.
  bool load_block() {
    if (done) return false;
    const uint64_t at = offset;
    if (at == size) {
      done = true;
      if (report.closed) {
        report.ok = true;
        return false;
      }
      report.first_bad_record = BadRecord{count, at};
      report.truncated = true;
      if (report.in_use) {
        report.problem = "still being written: no close signature yet (" + signed_so_far() + ")";
      } else {
        report.problem = (count == 0 ? std::string("file ends before its first record")
                                     : "file ends after record " + std::to_string(count - 1)) +
                         " without a close signature: truncated, or the writer stopped (" + signed_so_far() + ")";
      }
      return false;
    }
    if (report.closed) {
      return fail(count, at, "data after the close signature at offset " + std::to_string(at) +
                                 " (appended after the file was closed)");
    }
    auto truncated = [&](uint64_t readable) {
      report.unsigned_records = readable;
      report.truncated = true;
      const uint64_t last = count + readable;  // one past the last record that is there
      std::string where = last == 0 ? std::string("file ends inside its first block")
                                    : "file ends inside a block after record " + std::to_string(last - 1);
      return fail(count, at,
                  where + (report.in_use ? ": still being written (" : " without a close signature: truncated (") +
                      signed_so_far() + (readable > 0 ? ", the " + std::to_string(readable) + " after them are not" : "") +
                      ")");
    };
    if (size - at < kBlockHeaderSize) return truncated(0);
    unsigned char bh[kBlockHeaderSize];
    if (!read_at(fd, bh, sizeof bh, at)) return fail(count, at, "cannot read the file: " + std::string(std::strerror(errno)));
    if (std::memcmp(bh, kBlockMagic.data(), kBlockMagic.size()) != 0) {
      return fail(count, at, rec(count) + ": no block starts at offset " + std::to_string(at) +
                                 " (damaged, or bytes inserted or deleted)");
    }
    const uint8_t flags = bh[4];
    if ((flags & ~kBlockKnownFlags) != 0 || bh[5] != 0 || bh[6] != 0 || bh[7] != 0) {
      return fail(count, at, rec(count) + ": the block at offset " + std::to_string(at) +
                                 " has flags this pgwarden does not know (damaged, or a newer format)");
    }
    const uint64_t first = get_u64(bh + 8);
    const uint32_t expected = get_u32(bh + 16);
    const uint32_t stored_len = get_u32(bh + 20);
    const uint32_t raw_len = get_u32(bh + 24);
    const bool compressed = (flags & kBlockCompressed) != 0;
    if (first != count) {
      return fail(count, at, rec(count) + ": the block at offset " + std::to_string(at) + " says it starts at record " +
                                 std::to_string(first) + " (a block was deleted, inserted or reordered)");
    }
    if (raw_len > kMaxBlockRaw || (!compressed && raw_len != stored_len) ||
        (static_cast<uint64_t>(expected) * kRecordOverhead > raw_len)) {
      return fail(count, at, rec(count) + ": the block at offset " + std::to_string(at) +
                                 " has impossible lengths (damaged)");
    }
    const uint64_t avail = size - at - kBlockHeaderSize;
    const bool whole = avail >= static_cast<uint64_t>(stored_len) + kSignatureSize;
    const uint64_t body_at = at + kBlockHeaderSize;

    unsigned char chain[kHashSize];
    std::memcpy(chain, head, kHashSize);
    uint64_t parsed = 0;
    size_t bytes = 0;
    if (!compressed) {
      const size_t take = static_cast<size_t>(avail < stored_len ? avail : stored_len);
      raw.resize(take);
      if (take > 0 && !read_at(fd, raw.data(), take, body_at)) {
        return fail(count, at, "cannot read the file: " + std::string(std::strerror(errno)));
      }
      // A broken chain names its record even in a block cut short.
      if (!parse_records(at, false, expected, take, whole, chain, parsed, bytes)) return false;
      if (!whole) return truncated(parsed);
    } else {
      if (!whole) return truncated(0);
      stored.resize(stored_len);
      if (stored_len > 0 && !read_at(fd, stored.data(), stored_len, body_at)) {
        return fail(count, at, "cannot read the file: " + std::string(std::strerror(errno)));
      }
      const unsigned long long content = ZSTD_getFrameContentSize(stored.data(), stored.size());
      const size_t frame = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
      if (content != raw_len || ZSTD_isError(frame) || frame != stored.size()) {
        return fail(count, at, rec(count) + ": the compressed block at offset " + std::to_string(at) +
                                   " is damaged");
      }
      raw.resize(raw_len);
      if (zstd == nullptr) zstd = ZSTD_createDCtx();
      const size_t n = zstd ? ZSTD_decompressDCtx(zstd, raw.data(), raw.size(), stored.data(), stored.size()) : 0;
      if (zstd == nullptr || ZSTD_isError(n) || n != raw_len) {
        return fail(count, at, rec(count) + ": the compressed block at offset " + std::to_string(at) +
                                   " does not decompress (damaged)");
      }
      if (!parse_records(at, true, expected, raw_len, true, chain, parsed, bytes)) return false;
    }
    if (parsed != expected || bytes != raw_len) {
      return fail(count + parsed, at, rec(count + parsed) + ": the block at offset " + std::to_string(at) +
                                          " holds fewer records than its header says (damaged)");
    }

    const bool close = (flags & kBlockClose) != 0;
    const uint64_t total = count + expected;
    if (key) {
      unsigned char signature[kSignatureSize];
      if (!read_at(fd, signature, sizeof signature, body_at + stored_len)) {
        return fail(count, at, "cannot read the file: " + std::string(std::strerror(errno)));
      }
      unsigned char message[kSignedMessageSize];
      signed_message(message, close ? kSignClose : kSignBlock, file_id, total, chain);
      if (!key->verify(std::string_view(reinterpret_cast<const char*>(message), sizeof message), signature)) {
        const std::string which =
            (close ? "the close signature after record " : "signature at record ") +
            (total == 0 ? std::string("(none)") : std::to_string(total - 1));
        if (any_signature_verified) {
          return fail(count, at,
                      which + " does not verify, though the blocks before it do with this key: records " +
                          std::to_string(count) + ".." + std::to_string(total == 0 ? 0 : total - 1) +
                          " were altered, or the block was marked closed or not");
        }
        std::string hint;
        if (count == 0 && !records.empty()) {
          auto h = nlohmann::json::parse(records.front().payload, nullptr, false);
          if (h.is_object() && h.contains("key_fingerprint") && h["key_fingerprint"].is_string() &&
              h["key_fingerprint"].get<std::string>() != key->fingerprint()) {
            hint = " (the header names key " + h["key_fingerprint"].get<std::string>() + "; this key is " +
                   key->fingerprint() + ")";
          }
        }
        return fail(count, at, which + " does not verify with this public key" + hint);
      }
      any_signature_verified = true;
    }

    if (count == 0 && !records.empty()) {
      header = nlohmann::json::parse(records.front().payload, nullptr, false);
      if (!header.is_object()) {
        header = nullptr;
        return fail(0, records.front().offset, "record 0: the header is not a JSON object (damaged)");
      }
      if (header.contains("session_id") && header["session_id"].is_string()) {
        report.session_id = header["session_id"].get<std::string>();
      }
    }
    std::memcpy(head, chain, kHashSize);
    count = total;
    offset = body_at + stored_len + kSignatureSize;
    report.records = count;
    if (count > 0) report.last_good_record = count - 1;
    if (close) report.closed = true;
    return true;
  }
};

RecordingReader::RecordingReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)), report_(impl_->report) {}
RecordingReader::~RecordingReader() = default;

Result<std::unique_ptr<RecordingReader>> RecordingReader::open(const std::string& path, const PublicKey* key) {
  auto impl = std::make_unique<Impl>();
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (impl->fd < 0) return make_error("cannot open " + quote_for_message(path) + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(impl->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    return make_error(quote_for_message(path) + " is not a regular file");
  }
  impl->size = static_cast<uint64_t>(st.st_size);
  if (!impl->sha.ok()) return make_error("cannot set up SHA-256");
  impl->report.in_use = held_by_writer(impl->fd);
  if (key) impl->key = *key;
  impl->report.authenticated = key != nullptr;
  if (impl->read_preamble()) impl->load_block();
  return std::unique_ptr<RecordingReader>(new RecordingReader(std::move(impl)));
}

bool RecordingReader::next(Record& out) {
  Impl& m = *impl_;
  while (m.position >= m.records.size()) {
    if (!m.load_block()) return false;
  }
  out = m.records[m.position++];
  return true;
}

bool RecordingReader::resume() {
  Impl& m = *impl_;
  const bool at_end = m.done && !m.report.closed &&
                      (m.report.truncated || (!m.preamble_read && m.report.first_bad_record &&
                                              m.report.first_bad_record->offset == 0 && m.size < kPreambleSize));
  if (!at_end) return false;
  // Whether the writer is gone is read before the size: a writer that
  // finished in between has written everything it will.
  m.report.in_use = held_by_writer(m.fd);
  struct stat st {};
  if (::fstat(m.fd, &st) != 0 || static_cast<uint64_t>(st.st_size) <= m.size) return false;
  m.size = static_cast<uint64_t>(st.st_size);
  // Read on from the block the reading stopped at; nothing of it was handed out.
  m.done = false;
  m.report.truncated = false;
  m.report.unsigned_records = 0;
  m.report.first_bad_record.reset();
  m.report.problem.clear();
  if (!m.preamble_read) {
    if (!m.read_preamble()) return false;
  }
  return true;
}

const nlohmann::json& RecordingReader::header() const { return impl_->header; }

VerifyReport verify_recording(const std::string& path, const PublicKey& key) {
  auto reader = RecordingReader::open(path, &key);
  if (!reader) {
    VerifyReport r;
    r.authenticated = true;
    r.problem = reader.error();
    return r;
  }
  Record record;
  while ((*reader)->next(record)) {
  }
  return (*reader)->report();
}

}  // namespace pgw::audit
