#include "engine/recording_service.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>
#include <utility>

#include "audit/recording_format.h"
#include "common/instance_name.h"
#include "engine/recording_retention.h"

namespace pgw::engine {

namespace {

constexpr auto kFlushEvery = std::chrono::milliseconds(100);
constexpr size_t kFrameHeader = 1 + 8 + 4;
// While refusing, how often and with how much the directory is tried.
constexpr auto kProbeEvery = std::chrono::seconds(1);
constexpr size_t kProbeBytes = 256u << 10;
// The recording thread's nice value where SCHED_IDLE is not allowed (see run()).
constexpr int kRecordingNice = 10;
// How far a session's capture may run ahead of the recording thread before
// the session is no longer read (backpressure).
constexpr size_t kPendingCap = 4u << 20;
// A capture's buffers keep up to this much capacity between flushes; a
// session streaming at the cap keeps its two buffers until it stops.
constexpr size_t kKeepCapacity = 1u << 20;

uint64_t monotonic_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

uint32_t load_be32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

}  // namespace

void SessionCapture::append(Kind kind, std::string_view bytes) {
  std::lock_guard lock(mu_);
  if (closed_) return;
  const size_t at = begin_frame(kind);
  pending_.append(bytes);
  end_frame(at);
}

size_t SessionCapture::begin_frame(Kind kind) {
  char head[kFrameHeader] = {};
  head[0] = static_cast<char>(kind);
  const uint64_t ns = monotonic_ns();
  std::memcpy(head + 1, &ns, 8);
  const size_t at = pending_.size();
  pending_.append(head, sizeof head);
  return at;
}

void SessionCapture::end_frame(size_t at) {
  const auto len = static_cast<uint32_t>(pending_.size() - at - kFrameHeader);
  std::memcpy(pending_.data() + at + 9, &len, 4);
}

bool SessionCapture::pause_if_behind() {
  std::lock_guard lock(mu_);
  if (closed_ || pending_.size() < kPendingCap || !resume_) return false;
  paused_ = true;
  return true;
}

std::string SessionCapture::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

Result<std::unique_ptr<RecordingService>> RecordingService::start(const policy::RecordingConfig& config) {
  auto key = audit::SigningKey::load(config.signing_key_file);
  if (!key) return make_error("recording.signing_key_file: " + key.error());
  std::unique_ptr<SessionIndex> index;
  if (config.index_dsn_file) {
    auto opened = SessionIndex::open_file(*config.index_dsn_file);
    if (!opened) return make_error(opened.error());
    index = std::move(opened).value();
  }
  std::unique_ptr<RecordingService> s(new RecordingService(
      config, std::make_shared<const audit::SigningKey>(std::move(key).value()), std::move(index)));
  if (::access(config.dir.c_str(), W_OK | X_OK) != 0) {
    const std::string why = "recording.dir " + config.dir + " is not writable: " + std::strerror(errno);
    if (config.required) {
      s->refusing_.store(true);
      s->refusing_why_ = why;
    }
    s->health_.last_error = why;
    ++s->health_.failures;
    spdlog::error("recording: {}{}", why, config.required ? "; new sessions are refused (recording.required)" : "");
  }
  return s;
}

RecordingService::RecordingService(policy::RecordingConfig config, std::shared_ptr<const audit::SigningKey> key,
                                   std::unique_ptr<SessionIndex> index)
    : config_(std::move(config)),
      key_(std::move(key)),
      directory_(config_.dir, key_->public_key()),
      index_(std::move(index)) {
  health_.required = config_.required;
  health_.dir = config_.dir;
  health_.max_bytes = config_.max_bytes;
  health_.max_age_s = config_.max_age.count();
  thread_ = std::thread([this] { run(); });
}

RecordingService::~RecordingService() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  index_.reset();  // after the recording thread's last rows: they get their final flush
}

std::string RecordingService::refusing() const {
  if (!refusing_.load(std::memory_order_relaxed)) return {};
  std::lock_guard lock(mu_);
  return refusing_why_;
}

std::shared_ptr<SessionCapture> RecordingService::open(std::shared_ptr<const SessionInfo> info, nlohmann::json header) {
  auto c = std::make_shared<SessionCapture>();
  c->id_ = info->name;
  c->info_ = std::move(info);
  c->header_ = std::move(header);
  c->opened_at_ = std::chrono::system_clock::now();
  c->opened_ns_ = monotonic_ns();
  std::lock_guard lock(mu_);
  captures_.push_back(c);
  ++health_.open;
  return c;
}

void RecordingService::close(const std::shared_ptr<SessionCapture>& c) {
  if (!c) return;
  {
    std::lock_guard lock(c->mu_);
    c->closed_ = true;
  }
  wake_.notify_all();  // finished soon, not at the next tick
}

void RecordingService::fail(SessionCapture& c, const std::string& why) {
  {
    std::lock_guard lock(c.mu_);
    if (c.failure_.empty()) c.failure_ = why;
  }
  const bool first = !c.failed_.exchange(true, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  if (first) ++health_.failed_sessions;
  ++health_.failures;
  health_.last_error = why;
  if (config_.required) {
    refusing_.store(true);
    refusing_why_ = why;
  }
}

// Cuts a batch of captured chunks into protocol messages (one record each).
void RecordingService::write(SessionCapture& c, std::string_view batch) {
  uint64_t records = 0;
  while (batch.size() >= kFrameHeader) {
    const auto kind = static_cast<SessionCapture::Kind>(batch[0]);
    uint64_t ns;
    uint32_t len;
    std::memcpy(&ns, batch.data() + 1, 8);
    std::memcpy(&len, batch.data() + 9, 4);
    const std::string_view bytes = batch.substr(kFrameHeader, len);
    batch.remove_prefix(kFrameHeader + len);
    if (!c.writer_) continue;
    if (kind == SessionCapture::Kind::event) {
      if (auto st = c.writer_->append(audit::RecordType::event, ns, bytes); !st) return fail(c, st.error());
      ++records;
      continue;
    }
    const bool client = kind == SessionCapture::Kind::client;
    std::string& carry = c.carry_[client ? 0 : 1];
    carry.append(bytes);
    size_t at = 0;
    while (carry.size() - at >= 5) {
      const size_t whole = 1 + static_cast<size_t>(load_be32(carry.data() + at + 1));
      if (whole < 5 || carry.size() - at < whole) break;
      const auto type = client ? audit::RecordType::client_message : audit::RecordType::server_message;
      if (auto st = c.writer_->append(type, ns, std::string_view(carry).substr(at, whole)); !st) {
        return fail(c, st.error());
      }
      ++records;
      at += whole;
    }
    carry.erase(0, at);
  }
  std::lock_guard lock(mu_);
  health_.records += records;
}

void RecordingService::run() {
  // Hashing, compressing and signing a big result takes a core for a while;
  // the loop threads (and the clients and servers they serve) come first:
  // SCHED_IDLE runs this thread only on CPU time nothing else wants. A
  // session whose bytes then wait too long stops being read
  // (SessionCapture::pause_if_behind), so it is the one that slows down.
  sched_param idle{};
  if (::sched_setscheduler(0, SCHED_IDLE, &idle) != 0) {
    spdlog::debug("recording: SCHED_IDLE refused ({}); nice {} instead", std::strerror(errno), kRecordingNice);
    if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kRecordingNice) != 0) {
      spdlog::debug("recording: cannot lower the recording thread's priority: {}", std::strerror(errno));
    }
  }
  // Named, so that top -H and scripts/bench tell its CPU from the loop threads'.
  ::pthread_setname_np(::pthread_self(), "pgw-recording");
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait_for(lock, kFlushEvery);
    const bool stopping = stopping_;
    std::vector<std::shared_ptr<SessionCapture>> captures = captures_;
    lock.unlock();
    std::vector<SessionCapture*> finished;
    uint64_t resumed = 0;
    for (const auto& c : captures) {
      bool closed;
      std::string& batch = c->spare_;
      {
        std::lock_guard cl(c->mu_);
        batch.swap(c->pending_);
        closed = c->closed_ || stopping;
        // Read again while this batch is written: the cap allows one more.
        // Under the lock, so that a session being destroyed is not called.
        if (std::exchange(c->paused_, false)) {
          ++resumed;
          if (!closed && c->resume_) c->resume_();
        }
      }
      if (!c->writer_ && !c->failed()) {
        audit::WriterOptions options;
        options.start_time = c->opened_at_;  // the file is made up to a tick later
        options.start_monotonic_ns = c->opened_ns_;
        auto w = audit::RecordingWriter::create(config_.dir, c->id_, c->header_, key_, options);
        if (w) {
          c->writer_ = std::move(w).value();
          c->file_ = std::filesystem::path(c->writer_->path()).filename().string();
          {
            std::lock_guard l(mu_);
            ++health_.sessions;
            open_files_[c->id_] = c->file_;
          }
          index_row(*c, false);
        } else {
          spdlog::error("recording: session {}: {}", c->id_, w.error());
          fail(*c, w.error());
        }
      }
      write(*c, batch);
      // Kept for the next swap, unless a burst (a large result) grew it
      // and is over; a session at the cap keeps streaming into it.
      if (batch.capacity() > kKeepCapacity && batch.size() < kPendingCap / 2) {
        std::string().swap(batch);
      } else {
        batch.clear();
      }
      if (c->writer_ && !c->failed()) {
        if (auto st = closed ? c->writer_->close() : c->writer_->flush(); !st) {
          spdlog::error("recording: session {}: {}", c->id_, st.error());
          fail(*c, st.error());
        }
      }
      if (closed) {
        finished.push_back(c.get());
        index_row(*c, true);
      }
    }
    if (refusing_.load(std::memory_order_relaxed)) probe_recovery();
    lock.lock();
    health_.backpressure_pauses += resumed;
    if (!finished.empty()) {
      for (SessionCapture* c : finished) open_files_.erase(c->id_);
      std::erase_if(captures_, [&](const std::shared_ptr<SessionCapture>& c) {
        return std::find(finished.begin(), finished.end(), c.get()) != finished.end();
      });
      health_.open = captures_.size();
    }
    if (stopping) return;
    // Retention after a session closed (its file may tip the balance), and
    // every few seconds for max_age.
    if ((config_.max_bytes != 0 || config_.max_age.count() != 0) &&
        (!finished.empty() || std::chrono::steady_clock::now() >= next_retention_)) {
      lock.unlock();
      retain();
      lock.lock();
    }
  }
}

audit::RecordingSummary live_recording_summary(const SessionInfo& info) {
  audit::RecordingSummary r;
  r.id = info.name;
  r.node = node_name();
  r.start = info.started;
  r.live = true;
  r.identity = info.identity;
  r.upstream = info.upstream;
  r.database = info.database;
  r.user = info.user;
  r.statements = {info.statements_allowed.load(std::memory_order_relaxed),
                  info.statements_denied.load(std::memory_order_relaxed),
                  info.statements_held.load(std::memory_order_relaxed)};
  return r;
}

// The session's row in the index: at its start, and at its end with the
// counts.
void RecordingService::index_row(const SessionCapture& c, bool ended) {
  if (!index_ || !c.info_ || c.file_.empty()) return;
  audit::RecordingSummary row = live_recording_summary(*c.info_);  // its id is the capture's
  row.file = c.file_;
  if (ended) row.end = std::chrono::system_clock::now();
  row.live = !ended;
  index_->put(std::move(row));
}

void RecordingService::retain() {
  std::set<std::string> open;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, file] : open_files_) open.insert(file);
  }
  const RetentionPass pass = apply_retention(config_.dir, config_.max_bytes, config_.max_age, open);
  next_retention_ = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::lock_guard lock(mu_);
  health_.dir_bytes = pass.kept_bytes;
  health_.retention_removed_files += pass.removed_files;
  health_.retention_removed_bytes += pass.removed_bytes;
}

std::map<std::string, std::string> RecordingService::open_files() const {
  std::lock_guard lock(mu_);
  return open_files_;
}

void RecordingService::probe_recovery() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_probe_ < kProbeEvery) return;
  last_probe_ = now;
  // As much as a busy block takes, written and synced: a directory with a
  // few bytes free would only fail the next session.
  const std::string path = config_.dir + "/.pgwarden-probe";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  static const std::string kProbe(kProbeBytes, '\0');
  const bool ok = ::write(fd, kProbe.data(), kProbe.size()) == static_cast<ssize_t>(kProbe.size()) && ::fsync(fd) == 0;
  ::close(fd);
  ::unlink(path.c_str());
  if (!ok) return;
  std::lock_guard lock(mu_);
  spdlog::info("recording: {} takes writes again; new sessions are accepted (was: {})", config_.dir, refusing_why_);
  refusing_why_.clear();
  refusing_.store(false);
}

RecordingService::Health RecordingService::health() const {
  std::lock_guard lock(mu_);
  return health_;
}

}  // namespace pgw::engine
