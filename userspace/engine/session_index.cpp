#include "engine/session_index.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include <spdlog/spdlog.h>

#include "approval/approval_store_schema.h"
#include "approval/control_schema.h"

namespace pgw::engine {

namespace {

using Steady = approval::StoreConnection::Clock;
using audit::RecordingSummary;
using audit::TimePoint;

constexpr std::chrono::milliseconds kFirstBackoff{250};
constexpr std::chrono::milliseconds kFinalFlush{2000};  // at shutdown, for the last rows

int64_t to_micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

TimePoint from_micros(int64_t us) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(us)));
}

template <typename T>
bool parse_number(const std::optional<std::string>& text, T& out) {
  return text && std::from_chars(text->data(), text->data() + text->size(), out).ec == std::errc();
}

// Times go over the wire as microseconds since the epoch: no text format to
// agree on, and timestamptz keeps microseconds.
constexpr std::string_view kUpsert =
    "INSERT INTO pgwarden.sessions (id, node, identity, upstream, database, username, start_time, end_time, "
    "allowed, denied, held, file) VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7::bigint / 1e6), "
    "to_timestamp($8::bigint / 1e6), $9, $10, $11, $12) ON CONFLICT (id) DO UPDATE SET end_time = "
    "EXCLUDED.end_time, allowed = EXCLUDED.allowed, denied = EXCLUDED.denied, held = EXCLUDED.held, file = "
    "EXCLUDED.file";

constexpr std::string_view kSelect =
    "SELECT id, node, identity, upstream, database, username, (extract(epoch FROM start_time) * 1000000)::bigint, "
    "(extract(epoch FROM end_time) * 1000000)::bigint, allowed, denied, held, file FROM pgwarden.sessions "
    "WHERE ($1::text IS NULL OR identity = $1) AND ($2::text IS NULL OR upstream = $2) "
    "AND ($3::bigint IS NULL OR end_time IS NULL OR end_time >= to_timestamp($3::bigint / 1e6)) "
    "AND ($4::bigint IS NULL OR start_time <= to_timestamp($4::bigint / 1e6)) "
    "ORDER BY start_time DESC, id DESC LIMIT $5";

}  // namespace

SessionIndex::SessionIndex(Options options) : options_(std::move(options)) {
  stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Result<std::unique_ptr<SessionIndex>> SessionIndex::open_file(const std::string& dsn_file) {
  auto dsn = approval::read_dsn_file(dsn_file);
  if (!dsn) return make_error("recording.index.dsn_file: " + dsn.error());
  Options options;
  options.conninfo = std::move(dsn).value();
  return open(std::move(options));
}

Result<std::unique_ptr<SessionIndex>> SessionIndex::open(Options options) {
  std::unique_ptr<SessionIndex> index(new SessionIndex(std::move(options)));
  if (index->stop_fd_ < 0) return make_error("session index: eventfd failed");
  if (auto st = index->writer_.connect(index->options_.conninfo, Steady::now() + index->options_.timeout,
                                       index->stop_fd_);
      !st) {
    spdlog::warn("session index: cannot reach its database ({}); rows wait until it answers", st.error());
    index->failed(st.error());
  } else {
    const auto setup = approval::set_up_control_schema(index->writer_, Steady::now() + index->options_.timeout,
                                                       "recording.index.dsn_file");
    if (setup.outcome == approval::SchemaSetup::Outcome::refused) return make_error("session index: " + setup.why);
    if (setup.outcome == approval::SchemaSetup::Outcome::unreachable) {
      spdlog::warn("session index: cannot reach its database ({}); rows wait until it answers", setup.why);
      index->failed(setup.why);
    } else {
      if (setup.created) spdlog::info("session index: created schema pgwarden (version {})", approval::kSchemaVersion);
      index->health_.up = true;
      spdlog::info("session index: every session is listed in the control database");
    }
  }
  index->thread_ = std::thread([i = index.get()] { i->run(); });
  return index;
}

SessionIndex::~SessionIndex() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  uint64_t one = 1;
  if (stop_fd_ >= 0) (void)!::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void SessionIndex::put(RecordingSummary row) {
  {
    std::lock_guard lock(mu_);
    // A session's later row says all its earlier one did.
    auto same = std::find_if(queue_.begin(), queue_.end(), [&](const RecordingSummary& r) { return r.id == row.id; });
    if (same != queue_.end()) {
      *same = std::move(row);
    } else {
      queue_.push_back(std::move(row));
      if (queue_.size() > options_.max_queued) {
        queue_.pop_front();
        if (health_.dropped++ == 0) spdlog::error("session index: rows dropped: more than {} waiting", options_.max_queued);
      }
    }
    health_.queued = queue_.size();
  }
  wake_.notify_all();
}

void SessionIndex::failed(const std::string& why) {
  std::lock_guard lock(mu_);
  ++health_.failures;
  health_.last_error = why;
  health_.up = false;
}

bool SessionIndex::connect_writer() {
  if (auto st = writer_.connect(options_.conninfo, Steady::now() + options_.timeout, stop_fd_); !st) {
    failed(st.error());
    return false;
  }
  const auto setup = approval::set_up_control_schema(writer_, Steady::now() + options_.timeout,
                                                     "recording.index.dsn_file");
  if (setup.outcome != approval::SchemaSetup::Outcome::ok) {
    writer_.close();
    failed(setup.why);
    return false;
  }
  std::lock_guard lock(mu_);
  health_.up = true;
  return true;
}

bool SessionIndex::write(const RecordingSummary& r) {
  auto opt_text = [](const std::string& s) { return s.empty() ? std::nullopt : std::optional<std::string>(s); };
  const approval::StoreConnection::Params params = {
      r.id,
      r.node,
      r.identity,
      r.upstream,
      r.database,
      r.user,
      std::to_string(to_micros(r.start)),
      r.end ? std::optional<std::string>(std::to_string(to_micros(*r.end))) : std::nullopt,
      std::to_string(r.statements.allowed),
      std::to_string(r.statements.denied),
      std::to_string(r.statements.held),
      opt_text(r.file)};
  auto done = writer_.exec(std::string(kUpsert), params, Steady::now() + options_.timeout);
  if (done) return true;
  failed(done.error());
  if (writer_.connected()) {
    // The server refused this row (not the connection): it would be refused
    // again, so it is not kept.
    spdlog::error("session index: row of session {} not written: {}", r.id, done.error());
    return true;
  }
  return false;
}

void SessionIndex::run() {
  auto backoff = kFirstBackoff;
  auto next_attempt = Steady::now();
  bool outage_logged = !writer_.connected();
  std::optional<Steady::time_point> stop_by;
  for (;;) {
    std::optional<RecordingSummary> row;
    {
      std::unique_lock lock(mu_);
      if (stopping_ && !stop_by) stop_by = Steady::now() + kFinalFlush;
      if (stopping_ && (queue_.empty() || !writer_.connected() || Steady::now() >= *stop_by)) return;
      if (queue_.empty() || (!writer_.connected() && Steady::now() < next_attempt)) {
        wake_.wait_until(lock, queue_.empty() ? Steady::now() + std::chrono::seconds(1) : next_attempt);
        continue;
      }
      row = queue_.front();
    }
    if (!writer_.connected()) {
      if (!connect_writer()) {
        if (!outage_logged) spdlog::warn("session index: lost its database; rows wait until it answers");
        outage_logged = true;
        next_attempt = Steady::now() + backoff;
        backoff = std::min(backoff * 2, options_.max_backoff);
        continue;
      }
      if (outage_logged) spdlog::info("session index: its database answers again");
      outage_logged = false;
      backoff = kFirstBackoff;
    }
    if (!write(*row)) continue;  // connection gone: the row stays first in line
    std::lock_guard lock(mu_);
    // Unless put() replaced it meanwhile with a newer row of the session.
    const auto& front = queue_.empty() ? *row : queue_.front();
    if (!queue_.empty() && front.id == row->id && front.end == row->end &&
        front.statements.allowed == row->statements.allowed && front.statements.denied == row->statements.denied &&
        front.statements.held == row->statements.held) {
      queue_.pop_front();
    }
    ++health_.written;
    health_.queued = queue_.size();
  }
}

Result<std::vector<RecordingSummary>> SessionIndex::list(const audit::RecordingFilter& filter, size_t limit) {
  std::lock_guard lock(admin_mu_);
  const auto until = Steady::now() + options_.timeout;
  if (!admin_.connected()) {
    if (auto st = admin_.connect(options_.conninfo, until); !st) return make_error(st.error());
  }
  auto micros = [](const std::optional<TimePoint>& t) {
    return t ? std::optional<std::string>(std::to_string(to_micros(*t))) : std::nullopt;
  };
  auto rows = admin_.exec(std::string(kSelect),
                          {filter.identity, filter.upstream, micros(filter.since), micros(filter.until),
                           std::to_string(limit)},
                          until);
  if (!rows) return make_error(rows.error());
  std::vector<RecordingSummary> out;
  for (const auto& row : *rows) {
    if (row.size() != 12) continue;
    RecordingSummary s;
    s.id = row[0].value_or("");
    s.node = row[1].value_or("");
    s.identity = row[2].value_or("");
    s.upstream = row[3].value_or("");
    s.database = row[4].value_or("");
    s.user = row[5].value_or("");
    int64_t us = 0;
    if (parse_number(row[6], us)) s.start = from_micros(us);
    if (parse_number(row[7], us)) s.end = from_micros(us);
    s.live = !row[7];
    parse_number(row[8], s.statements.allowed);
    parse_number(row[9], s.statements.denied);
    parse_number(row[10], s.statements.held);
    s.file = row[11].value_or("");
    out.push_back(std::move(s));
  }
  return out;
}

SessionIndex::Health SessionIndex::health() const {
  std::lock_guard lock(mu_);
  return health_;
}

}  // namespace pgw::engine
