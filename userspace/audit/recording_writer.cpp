#include "audit/recording_writer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <zstd.h>

#include "audit/recording_time.h"
#include "audit/sha256.h"
#include "common/quote.h"

namespace pgw::audit {

struct RecordingWriter::Hasher : Sha256 {};

struct RecordingWriter::Compressor {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ~Compressor() { ZSTD_freeCCtx(ctx); }
};

namespace {

// Buffers bigger than this are given back after the block that needed them.
constexpr size_t kKeepCapacity = 16u << 20;

bool valid_session_id(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

// Writes all of iov[0..n) at `offset`, going on after short writes. Returns 0
// or the errno.
int write_all_at(int fd, struct iovec* iov, int n, off_t offset) {
  while (n > 0) {
    ssize_t w = ::pwritev(fd, iov, n, offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    offset += w;
    size_t left = static_cast<size_t>(w);
    while (n > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --n;
    }
    if (n > 0) {
      iov->iov_base = static_cast<char*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return 0;
}

uint64_t monotonic_now_ns() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

std::string recording_file_name(std::chrono::system_clock::time_point start, std::string_view session_id) {
  return format_utc_compact(start) + "-" + std::string(session_id) + std::string(kFileSuffix);
}

Result<std::unique_ptr<RecordingWriter>> RecordingWriter::create(const std::string& dir, std::string_view session_id,
                                                                 const nlohmann::json& header,
                                                                 std::shared_ptr<const SigningKey> key,
                                                                 const WriterOptions& options) {
  if (!valid_session_id(session_id)) {
    return make_error("session id " + quote_for_message(session_id) +
                      " cannot name a recording (letters, digits, '.', '_' and '-' only)");
  }
  if (!key) return make_error("no recording key");
  if (!header.is_object()) return make_error("a recording header must be a JSON object");

  std::unique_ptr<RecordingWriter> w(new RecordingWriter());
  w->key_ = std::move(key);
  w->options_ = options;
  w->hasher_ = std::make_unique<Hasher>();
  w->zstd_ = std::make_unique<Compressor>();
  if (!w->hasher_->ok() || w->zstd_->ctx == nullptr) return make_error("cannot set up SHA-256 or zstd");

  const auto start = options.start_time.value_or(std::chrono::system_clock::now());
  w->dir_ = dir.empty() ? "." : dir;
  w->path_ = w->dir_ + "/" + recording_file_name(start, session_id);

  // The file id: unique to this file, the seed of its hash chain and part of
  // every signature, so no block of another file fits in this one.
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) return make_error("no random bytes for the recording's file id");
  const std::string seed = std::string(kFileMagic) + std::string(session_id) + "\n" + format_utc(start);
  if (!w->hasher_->hash2(seed.data(), seed.size(), nonce, sizeof nonce, w->file_id_)) {
    return make_error("SHA-256 failed");
  }
  std::memcpy(w->head_, w->file_id_, kHashSize);

  w->fd_ = ::open(w->path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (w->fd_ < 0) {
    return make_error("cannot create recording " + quote_for_message(w->path_) + ": " + std::strerror(errno));
  }
  // Held while the file is being written: `sessions verify` tells a live
  // recording from a truncated one by it.
  (void)::flock(w->fd_, LOCK_EX | LOCK_NB);

  auto fail = [&w](const std::string& what) -> Result<std::unique_ptr<RecordingWriter>> {
    ::unlink(w->path_.c_str());
    return make_error("cannot write recording " + quote_for_message(w->path_) + ": " + what);
  };

  unsigned char preamble[kPreambleSize];
  std::memcpy(preamble, kFileMagic.data(), kFileMagic.size());
  std::memcpy(preamble + kFileMagic.size(), w->file_id_, kFileIdSize);
  struct iovec iov {preamble, sizeof preamble};
  if (int err = write_all_at(w->fd_, &iov, 1, 0); err != 0) return fail(std::strerror(err));
  w->committed_size_ = kPreambleSize;

  nlohmann::json h = header;
  h["recording_format"] = kFormatVersion;
  h["session_id"] = std::string(session_id);
  h["start_time"] = format_utc(start);
  h["key_fingerprint"] = w->key_->fingerprint();
  const std::string text = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  const uint64_t header_ns = options.start_monotonic_ns.value_or(monotonic_now_ns());
  if (auto st = w->append(RecordType::header, header_ns, text); !st) return fail(st.error());
  if (auto st = w->flush(); !st) return fail(st.error());
  return w;
}

RecordingWriter::~RecordingWriter() {
  if (fd_ >= 0) ::close(fd_);
}

Status RecordingWriter::append(RecordType type, uint64_t monotonic_ns, std::string_view payload) {
  if (closed_) return make_error("recording " + quote_for_message(path_) + " is closed");
  if (payload.size() > kMaxPayload) {
    return make_error("a record of " + std::to_string(payload.size()) + " bytes is over the recording limit");
  }
  const size_t frame = kRecordOverhead + payload.size();
  if (pending_.size() + frame > kMaxBlockRaw) return make_error("the recording's block is full: flush first");

  const size_t at = pending_.size();
  pending_.resize(at + frame);
  auto* p = reinterpret_cast<unsigned char*>(pending_.data()) + at;
  p[0] = static_cast<unsigned char>(type);
  put_u64(p + 1, monotonic_ns);
  put_u32(p + 9, static_cast<uint32_t>(payload.size()));
  if (!payload.empty()) std::memcpy(p + kRecordHeadSize, payload.data(), payload.size());
  unsigned char* hash = p + kRecordHeadSize + payload.size();
  if (!hasher_->hash2(head_, kHashSize, p, kRecordHeadSize + payload.size(), hash)) {
    pending_.resize(at);
    return make_error("SHA-256 failed");
  }
  std::memcpy(head_, hash, kHashSize);
  ++pending_records_;
  return ok_status();
}

Status RecordingWriter::io_error(const char* what, int err) {
  last_errno_ = err;
  return make_error(std::string(what) + " recording " + quote_for_message(path_) + ": " + std::strerror(err));
}

Status RecordingWriter::write_block(uint8_t sign_kind) {
  if (broken_) return make_error("recording " + quote_for_message(path_) + " is damaged by an earlier failed write");
  const auto* raw = reinterpret_cast<const unsigned char*>(pending_.data());
  const size_t raw_len = pending_.size();
  const unsigned char* body = raw;
  size_t body_len = raw_len;
  uint8_t flags = sign_kind == kSignClose ? kBlockClose : 0;
  if (options_.compress && raw_len >= options_.compress_min_bytes) {
    compressed_.resize(ZSTD_compressBound(raw_len));
    size_t n = ZSTD_compressCCtx(zstd_->ctx, compressed_.data(), compressed_.size(), raw, raw_len,
                                 options_.compression_level);
    if (!ZSTD_isError(n) && n < raw_len) {
      body = reinterpret_cast<const unsigned char*>(compressed_.data());
      body_len = n;
      flags |= kBlockCompressed;
    }
  }

  unsigned char head[kBlockHeaderSize] = {};
  std::memcpy(head, kBlockMagic.data(), kBlockMagic.size());
  head[4] = flags;
  put_u64(head + 8, written_records_);
  put_u32(head + 16, static_cast<uint32_t>(pending_records_));
  put_u32(head + 20, static_cast<uint32_t>(body_len));
  put_u32(head + 24, static_cast<uint32_t>(raw_len));

  unsigned char message[kSignedMessageSize];
  signed_message(message, sign_kind, file_id_, written_records_ + pending_records_, head_);
  unsigned char signature[kSignatureSize];
  if (!key_->sign(std::string_view(reinterpret_cast<const char*>(message), sizeof message), signature)) {
    return make_error("signing recording " + quote_for_message(path_) + " failed");
  }

  struct iovec iov[3];
  int n = 0;
  iov[n++] = {head, sizeof head};
  if (body_len > 0) iov[n++] = {const_cast<unsigned char*>(body), body_len};
  iov[n++] = {signature, sizeof signature};
  if (int err = write_all_at(fd_, iov, n, static_cast<off_t>(committed_size_)); err != 0) {
    // Cut a partial block off, so the file stays whole blocks and a later
    // flush can write these records again.
    if (::ftruncate(fd_, static_cast<off_t>(committed_size_)) != 0) broken_ = true;
    return io_error("cannot write", err);
  }
  committed_size_ += sizeof head + body_len + sizeof signature;
  written_records_ += pending_records_;
  pending_records_ = 0;
  pending_.clear();
  if (pending_.capacity() > kKeepCapacity) std::string().swap(pending_);
  if (compressed_.capacity() > kKeepCapacity) std::string().swap(compressed_);
  return ok_status();
}

Status RecordingWriter::flush() {
  if (closed_) return make_error("recording " + quote_for_message(path_) + " is closed");
  if (pending_records_ == 0) return ok_status();
  return write_block(kSignBlock);
}

Status RecordingWriter::sync() {
  if (closed_) return make_error("recording " + quote_for_message(path_) + " is closed");
  if (::fsync(fd_) != 0) return io_error("cannot fsync", errno);
  if (!dir_synced_) {
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return io_error("cannot open the directory of", errno);
    int rc = ::fsync(dfd);
    int err = errno;
    ::close(dfd);
    if (rc != 0) return io_error("cannot fsync the directory of", err);
    dir_synced_ = true;
  }
  return ok_status();
}

Status RecordingWriter::close() {
  if (closed_) return make_error("recording " + quote_for_message(path_) + " is closed");
  if (auto st = write_block(kSignClose); !st) return st;
  closed_ = true;  // the close block is on disk: nothing may follow it
  int rc = ::fsync(fd_);
  int err = errno;
  ::close(fd_);  // and so the lock
  fd_ = -1;
  if (rc != 0) return io_error("cannot fsync", err);
  if (!dir_synced_) {
    int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      rc = ::fsync(dfd);
      err = errno;
      ::close(dfd);
      if (rc != 0) return io_error("cannot fsync the directory of", err);
    }
    dir_synced_ = true;
  }
  return ok_status();
}

}  // namespace pgw::audit
