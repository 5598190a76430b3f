#include "approval/approval_store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>

#include <spdlog/spdlog.h>

#include "approval/approval_rules.h"
#include "approval/approval_store_schema.h"
#include "approval/control_schema.h"

namespace pgw::approval {

namespace {

using Steady = StoreConnection::Clock;
using Refusal = ApprovalQueue::Decided::Refusal;
using std::chrono::milliseconds;

constexpr size_t kRecentListed = 200;  // as many decided requests as the local queue keeps
constexpr milliseconds kFirstBackoff{250};
constexpr milliseconds kFinalFlush{2000};  // at shutdown, for the last marks

// The columns every read takes, in this order (see parse_row). Times as
// microseconds since the epoch; approved_by as JSON, so that no array
// literal is parsed by hand.
constexpr std::string_view kColumns =
    "id, node, state, (extract(epoch FROM created) * 1000000)::bigint, "
    "(extract(epoch FROM deadline) * 1000000)::bigint, min_approvals, to_json(approved_by)::text, "
    "coalesce(decided_by, ''), coalesce(reason, ''), grant_for_ms, request::text, deadline <= now()";

std::string select_sql(std::string_view where) {
  return "SELECT " + std::string(kColumns) + " FROM pgwarden.approvals " + std::string(where);
}

// Ends the row unless it is decided; every node that holds the id learns it
// through the notification (one statement: the notification goes with the
// update or not at all).
constexpr std::string_view kEndSql =
    "WITH ended AS (UPDATE pgwarden.approvals SET state = $2, decided_by = nullif($3, ''), reason = $4 "
    "WHERE id = $1 AND state = 'pending' RETURNING id) "
    "SELECT pg_notify('pgwarden_approvals', id) FROM ended";

std::optional<State> state_named(std::string_view s) {
  for (State st : {State::pending, State::approved, State::denied, State::timed_out, State::withdrawn,
                   State::aborted}) {
    if (to_string(st) == s) return st;
  }
  return std::nullopt;
}

int64_t micros(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

std::chrono::system_clock::time_point from_micros(int64_t v) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::microseconds(v)));
}

template <typename T>
bool parse_number(const std::optional<std::string>& text, T& out) {
  if (!text) return false;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), out);
  return ec == std::errc() && end == text->data() + text->size();
}

// A row as the rules see it.
struct StoredRow {
  Request request;
  std::string requester_user;
  bool expired = false;  // pending past its deadline: its node is timing it out (or is gone)
};

Result<StoredRow> parse_row(const StoreRow& row) {
  if (row.size() != 12 || !row[0] || !row[2]) return make_error("unexpected row shape");
  StoredRow out;
  Request& r = out.request;
  r.id = *row[0];
  r.node = row[1].value_or("");
  auto state = state_named(*row[2]);
  if (!state) return make_error(r.id + ": unknown state " + *row[2]);
  r.state = *state;
  int64_t created = 0, deadline = 0, grant_ms = 0;
  if (!parse_number(row[3], created) || !parse_number(row[4], deadline) || !parse_number(row[5], r.min_approvals)) {
    return make_error(r.id + ": unreadable times or min_approvals");
  }
  r.created = from_micros(created);
  r.deadline = from_micros(deadline);
  if (row[9]) {
    if (!parse_number(row[9], grant_ms)) return make_error(r.id + ": unreadable grant_for_ms");
    r.grant_for = milliseconds(grant_ms);
  }
  r.decided_by = row[7].value_or("");
  r.reason = row[8].value_or("");
  out.expired = row[11].value_or("f") == "t";
  try {
    for (const auto& a : nlohmann::json::parse(row[6].value_or("[]"))) r.approved_by.push_back(a.get<std::string>());
    out.requester_user = read_stored_request_json(nlohmann::json::parse(row[10].value_or("{}")), r);
  } catch (const nlohmann::json::exception& e) {
    return make_error(r.id + ": unreadable request: " + e.what());
  }
  return out;
}

StoredState state_of(const Request& r) {
  return {r.id, r.state, r.approved_by, r.decided_by, r.reason, r.grant_for};
}

// How a row is shown: one pending past its deadline has timed out, whether
// or not its node got to say so (it may be gone).
Request as_shown(StoredRow row) {
  if (row.expired && row.request.state == State::pending) {
    row.request.state = State::timed_out;
    row.request.reason = "no decision in time";
  }
  return std::move(row.request);
}

std::string id_list_json(const std::vector<std::string>& ids) { return nlohmann::json(ids).dump(); }

}  // namespace

nlohmann::json stored_request_json(const Request& r, const std::string& requester_user) {
  nlohmann::json j = to_json(r, r.created);
  j["shape"] = r.ask.shape;
  j["message"] = r.ask.message;
  j["requester_user"] = requester_user;
  // Derived from the time of the writing, so meaningless when read back.
  j.erase("age_s");
  j.erase("expires_in_s");
  return j;
}

std::string read_stored_request_json(const nlohmann::json& j, Request& r) {
  r.session = j.value("session", uint64_t{0});
  r.session_id = j.value("session_id", "");
  r.upstream = j.value("upstream", "");
  r.database = j.value("database", "");
  if (auto it = j.find("identity"); it != j.end() && it->is_object()) {
    const auto& i = *it;
    r.requester.identity = i.value("name", "");
    r.requester.cgroup = i.value("cgroup", "");
    r.requester.comm = i.value("comm", "");
    r.requester.pod = i.value("pod", "");
    r.requester.source = i.value("source", "");
    if (i.contains("uid") && i["uid"].is_number_unsigned()) r.requester.uid = i["uid"].get<uint32_t>();
    if (i.contains("gid") && i["gid"].is_number_unsigned()) r.requester.gid = i["gid"].get<uint32_t>();
    if (i.contains("pid") && i["pid"].is_number_integer()) r.requester.pid = i["pid"].get<int32_t>();
  }
  r.ask.sql = j.value("sql", "");
  r.ask.classes = j.value("classes", std::vector<std::string>{});
  r.ask.rule = j.value("rule", "");
  r.ask.statement_hash = j.value("statement_hash", "");
  r.ask.shape = j.value("shape", "");
  r.ask.message = j.value("message", "");
  return j.value("requester_user", "");
}

// ---- opening ------------------------------------------------------------------------

SharedApprovalStore::SharedApprovalStore(Options options) : options_(std::move(options)) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  stop_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Result<std::unique_ptr<SharedApprovalStore>> SharedApprovalStore::open_file(const std::string& dsn_file) {
  auto dsn = read_dsn_file(dsn_file);
  if (!dsn) return make_error("approval.store.dsn_file: " + dsn.error());
  Options options;
  options.conninfo = std::move(dsn).value();
  return open(std::move(options));
}

Result<std::unique_ptr<SharedApprovalStore>> SharedApprovalStore::open(Options options) {
  std::unique_ptr<SharedApprovalStore> store(new SharedApprovalStore(std::move(options)));
  if (store->wake_fd_ < 0 || store->stop_fd_ < 0) return make_error("approval store: eventfd failed");
  const SetupResult r = store->connect_listener();
  switch (r.setup) {
    case Setup::refused: return make_error("approval store: " + r.why);
    case Setup::unreachable:
      // Not fatal: the clients of this node wait for it (and time out)
      // just as they would if it went away later.
      spdlog::warn("approval store: cannot reach its database ({}); held statements time out until it answers",
                   r.why);
      store->outage_logged_ = true;
      break;
    case Setup::ok:
      store->up_ = true;
      spdlog::info("approval store: requests are kept in the shared database (schema version {})", kSchemaVersion);
      break;
  }
  return store;
}

Steady::time_point SharedApprovalStore::deadline() const { return Steady::now() + options_.timeout; }

// Connects the listening connection, sets the schema up and LISTENs.
SharedApprovalStore::SetupResult SharedApprovalStore::connect_listener() {
  if (auto st = listener_.connect(options_.conninfo, deadline(), stop_fd_); !st) {
    return {Setup::unreachable, st.error()};
  }
  const auto until = deadline();
  const SchemaSetup schema = set_up_control_schema(listener_, until, "approval.store.dsn_file");
  if (schema.outcome == SchemaSetup::Outcome::unreachable) return {Setup::unreachable, schema.why};
  if (schema.outcome == SchemaSetup::Outcome::refused) return {Setup::refused, schema.why};
  if (schema.created) spdlog::info("approval store: created schema pgwarden (version {})", kSchemaVersion);
  if (auto listening = listener_.exec("LISTEN " + std::string(kNotifyChannel), until); !listening) {
    if (!listener_.connected()) return {Setup::unreachable, listening.error()};
    listener_.close();
    return {Setup::refused, "LISTEN " + std::string(kNotifyChannel) + ": " + listening.error()};
  }
  return {Setup::ok, {}};
}

// ---- the store's thread -------------------------------------------------------------

void SharedApprovalStore::start(Hooks hooks) {
  hooks_ = std::move(hooks);
  thread_ = std::thread([this] { run(); });
}

SharedApprovalStore::~SharedApprovalStore() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  uint64_t one = 1;
  if (stop_fd_ >= 0) (void)!::write(stop_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

void SharedApprovalStore::insert(const Request& r) {
  {
    std::lock_guard lock(mu_);
    outbox_.push_back(Op{Op::Kind::insert, r});
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void SharedApprovalStore::mark_ended(const Request& r) {
  {
    std::lock_guard lock(mu_);
    // Never written: nothing to mark ("inserted when the store is back,
    // or never").
    auto it = std::find_if(outbox_.begin(), outbox_.end(),
                           [&](const Op& op) { return op.kind == Op::Kind::insert && op.request.id == r.id; });
    if (it != outbox_.end()) {
      outbox_.erase(it);
      return;
    }
    outbox_.push_back(Op{Op::Kind::mark, r});
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void SharedApprovalStore::expire(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    Op op{Op::Kind::expire, {}};
    op.request.id = id;
    auto it = std::find_if(outbox_.begin(), outbox_.end(),
                           [&](const Op& o) { return o.kind == Op::Kind::insert && o.request.id == id; });
    if (it != outbox_.end()) {
      outbox_.erase(it);
      op.inserted = false;
    }
    outbox_.push_back(std::move(op));
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void SharedApprovalStore::went_down(const std::string& why) {
  up_ = false;
  listener_.close();
  if (!outage_logged_) {
    spdlog::warn("approval store: lost its database ({}); held statements time out until it answers again", why);
    outage_logged_ = true;
  }
}

void SharedApprovalStore::run() {
  auto backoff = kFirstBackoff;
  auto next_attempt = Steady::now();
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    if (!listener_.connected() && Steady::now() >= next_attempt) {
      const SetupResult r = connect_listener();
      if (r.setup == Setup::ok) {
        if (outage_logged_) spdlog::info("approval store: its database answers again");
        outage_logged_ = false;
        up_ = true;
        backoff = kFirstBackoff;
        // Decisions made while this node was not listening.
        read_back(hooks_.pending_ids());
      } else {
        went_down(r.why);
        next_attempt = Steady::now() + backoff;
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    }
    // What loop threads and the timer handed over, in order.
    while (listener_.connected()) {
      Op op;
      {
        std::lock_guard lock(mu_);
        if (outbox_.empty() || stopping_) break;
        op = std::move(outbox_.front());
        outbox_.pop_front();
      }
      if (!run_op(op)) {
        std::lock_guard lock(mu_);
        outbox_.push_front(std::move(op));  // again once reconnected
        break;
      }
    }
    if (!listener_.connected()) {
      went_down("the connection was lost");
      answer_without_database();
    }
    // Notifications: those that came in while running commands too.
    for (;;) {
      std::vector<std::string> payloads;
      if (!listener_.connected() || !listener_.read_notifications(payloads)) break;
      std::set<std::string> mine;
      for (auto& id : payloads) {
        if (hooks_.holds(id)) mine.insert(std::move(id));
      }
      if (mine.empty()) break;
      read_back({mine.begin(), mine.end()});
    }

    pollfd fds[3] = {{wake_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}, {listener_.socket(), POLLIN, 0}};
    int timeout = -1;
    if (!listener_.connected()) {
      timeout = static_cast<int>(std::max<int64_t>(
          0, std::chrono::duration_cast<milliseconds>(next_attempt - Steady::now()).count()));
    }
    ::poll(fds, listener_.connected() ? 3 : 2, timeout);
    uint64_t drained = 0;
    (void)!::read(wake_fd_, &drained, sizeof drained);
  }
  // Stopping: the last marks (the queue aborted its requests) go out if
  // the database answers quickly; the rows of the others time out.
  const auto until = Steady::now() + kFinalFlush;
  while (listener_.connected() && Steady::now() < until) {
    Op op;
    {
      std::lock_guard lock(mu_);
      if (outbox_.empty()) break;
      op = std::move(outbox_.front());
      outbox_.pop_front();
    }
    if (op.kind == Op::Kind::mark) (void)run_op(op);
  }
  listener_.close();
}

// With no database: an expiry is answered at once (the client is told it
// timed out) and kept as a mark for when the database is back.
void SharedApprovalStore::answer_without_database() {
  std::vector<StoredState> timed_out;
  {
    std::lock_guard lock(mu_);
    for (auto it = outbox_.begin(); it != outbox_.end();) {
      if (it->kind != Op::Kind::expire) {
        ++it;
        continue;
      }
      timed_out.push_back({it->request.id, State::timed_out, {}, {}, "no decision in time", {}});
      if (!it->inserted) {
        it = outbox_.erase(it);
        continue;
      }
      it->kind = Op::Kind::mark;
      it->request.state = State::timed_out;
      it->request.reason = "no decision in time";
      ++it;
    }
  }
  for (const auto& s : timed_out) hooks_.changed(s);
}

bool SharedApprovalStore::run_op(const Op& op) {
  const Request& r = op.request;
  switch (op.kind) {
    case Op::Kind::insert: {
      const std::string user = r.requester.uid ? unix_user_name(*r.requester.uid) : std::string();
      auto done = listener_.exec(
          "INSERT INTO pgwarden.approvals (id, node, state, created, deadline, min_approvals, request) "
          "VALUES ($1, $2, 'pending', 'epoch'::timestamptz + $3::bigint * interval '1 microsecond', "
          "'epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5::int, $6::jsonb) "
          "ON CONFLICT (id) DO NOTHING RETURNING id",
          {r.id, r.node, std::to_string(micros(r.created)), std::to_string(micros(r.deadline)),
           std::to_string(r.min_approvals), stored_request_json(r, user).dump()},
          deadline());
      if (!done && !listener_.connected()) return false;
      if (!done || done->empty()) {
        // Nobody could ever approve it: the client is told now rather than
        // at its deadline.
        const std::string why = done ? "its id is already taken in the approval store"
                                     : "the approval store refused it: " + done.error();
        spdlog::error("approval {}: {}", r.id, why);
        hooks_.changed({r.id, State::aborted, {}, {}, why, {}});
      }
      return true;
    }
    case Op::Kind::mark: {
      auto done = listener_.exec(std::string(kEndSql),
                                 {r.id, std::string(to_string(r.state)), r.decided_by, r.reason}, deadline());
      if (!done && !listener_.connected()) return false;
      if (!done) spdlog::error("approval {}: recording it as {} failed: {}", r.id, to_string(r.state), done.error());
      return true;
    }
    case Op::Kind::expire: {
      if (!op.inserted) {
        hooks_.changed({r.id, State::timed_out, {}, {}, "no decision in time", {}});
        return true;
      }
      auto done = listener_.exec(std::string(kEndSql), {r.id, "timed_out", "", "no decision in time"}, deadline());
      if (!done && !listener_.connected()) return false;
      if (!done) spdlog::error("approval {}: recording its timeout failed: {}", r.id, done.error());
      // Timed out, or decided by someone just before: what the row says wins.
      auto rows = listener_.exec(select_sql("WHERE id = $1"), {r.id}, deadline());
      if (!rows && !listener_.connected()) return false;
      std::optional<StoredState> stored;
      if (rows && rows->size() == 1) {
        if (auto row = parse_row((*rows)[0]); row && row->request.state != State::pending) {
          stored = state_of(row->request);
        }
      }
      hooks_.changed(stored ? *stored : StoredState{r.id, State::timed_out, {}, {}, "no decision in time", {}});
      return true;
    }
  }
  return true;
}

// Reads the rows of these ids and hands each to the queue.
void SharedApprovalStore::read_back(const std::vector<std::string>& ids) {
  if (ids.empty() || !listener_.connected()) return;
  auto rows = listener_.exec(select_sql("WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))"),
                             {id_list_json(ids)}, deadline());
  if (!rows) {
    if (listener_.connected()) spdlog::error("approval store: reading requests back failed: {}", rows.error());
    return;
  }
  for (const auto& row : *rows) {
    auto parsed = parse_row(row);
    if (!parsed) {
      spdlog::error("approval store: {}", parsed.error());
      continue;
    }
    hooks_.changed(state_of(parsed->request));
  }
}

// ---- the admin thread ---------------------------------------------------------------

// The admin connection, working. One the server closed since its last use
// (a restart) shows as closed once what the server sent is read, and is
// made again. While the store's thread knows the database is down, this
// fails at once rather than making the decider wait for a connect timeout.
Status SharedApprovalStore::admin_ready(Steady::time_point until) {
  std::vector<std::string> ignored;
  if (admin_.connected() && admin_.read_notifications(ignored)) return ok_status();
  if (!up_) return make_error("its database does not answer");
  return admin_.connect(options_.conninfo, until);
}

ApprovalQueue::Decided SharedApprovalStore::decide(const std::string& id, const Rule& rule) {
  std::lock_guard lock(admin_mu_);
  const auto until = deadline();
  // Decided has no refusal for "the store is unreachable" and the admin
  // layer maps refusals to HTTP statuses, so this is unknown_id (404) with
  // an error that says what happened.
  auto unreachable = [&](const std::string& why) {
    return ApprovalQueue::Decided{Refusal::unavailable,
                                  "cannot reach the approval store (" + why + "); nothing was decided", {}};
  };
  if (auto st = admin_ready(until); !st) return unreachable(st.error());
  auto rollback = [&] {
    if (admin_.connected()) (void)admin_.exec("ROLLBACK", until);
  };
  if (auto began = admin_.exec("BEGIN", until); !began) return unreachable(began.error());
  // The row's lock: deciders on other nodes wait for this one, then see
  // what it did.
  auto rows = admin_.exec(select_sql("WHERE id = $1 FOR UPDATE"), {id}, until);
  if (!rows) {
    rollback();
    return unreachable(rows.error());
  }
  if (rows->empty()) {
    rollback();
    return {Refusal::unknown_id, "no approval request " + id, {}};
  }
  auto row = parse_row((*rows)[0]);
  if (!row) {
    rollback();
    return unreachable(row.error());
  }
  Request r = row->request;
  if (row->expired && r.state == State::pending) {
    rollback();
    return not_pending(as_shown(std::move(*row)));
  }
  ApprovalQueue::Decided d = rule(r, row->requester_user);
  if (d.refusal != Refusal::none) {
    rollback();
    return d;
  }
  auto updated = admin_.exec(
      "UPDATE pgwarden.approvals SET state = $2, approved_by = ARRAY(SELECT jsonb_array_elements_text($3::jsonb)), "
      "decided_by = nullif($4, ''), reason = nullif($5, ''), grant_for_ms = $6::bigint WHERE id = $1",
      {r.id, std::string(to_string(r.state)), nlohmann::json(r.approved_by).dump(), r.decided_by, r.reason,
       r.grant_for ? std::optional<std::string>(std::to_string(r.grant_for->count())) : std::nullopt},
      until);
  if (!updated) {
    rollback();
    return unreachable(updated.error());
  }
  // The owning node applies every change (approvals so far, or the end).
  auto told = admin_.exec("SELECT pg_notify('pgwarden_approvals', $1)", {r.id}, until);
  if (!told) {
    rollback();
    return unreachable(told.error());
  }
  if (auto committed = admin_.exec("COMMIT", until); !committed) {
    return {Refusal::unknown_id,
            "the approval store did not confirm the decision (" + committed.error() +
                "); it may or may not be recorded: see `pgwarden approvals list --all`",
            {}};
  }
  return d;
}

ApprovalQueue::Decided SharedApprovalStore::approve(const std::string& id, const Approver& who,
                                                    std::optional<std::chrono::milliseconds> grant_for) {
  auto d = decide(id, [&](Request& r, const std::string& user) { return apply_approval(r, who, user, grant_for); });
  if (d.refusal == Refusal::none) {
    spdlog::info("approval {}: approved by {} via {} ({} of {}) in the shared store", id, who.name, who.via,
                 d.request.approved_by.size(), d.request.min_approvals);
  }
  return d;
}

ApprovalQueue::Decided SharedApprovalStore::deny(const std::string& id, const Approver& who, std::string reason) {
  auto d = decide(id, [&](Request& r, const std::string& user) {
    return apply_denial(r, who, user, std::move(reason));
  });
  if (d.refusal == Refusal::none) {
    spdlog::info("approval {}: denied by {} via {} in the shared store: {}", id, who.name, who.via, d.request.reason);
  }
  return d;
}

Result<std::vector<Request>> SharedApprovalStore::list(bool recent) {
  std::lock_guard lock(admin_mu_);
  const auto until = deadline();
  if (auto st = admin_ready(until); !st) return make_error("cannot reach the approval store: " + st.error());
  std::vector<Request> out;
  auto add = [&](const std::string& sql) -> Status {
    auto rows = admin_.exec(sql, until);
    if (!rows) return make_error(rows.error());
    for (const auto& row : *rows) {
      auto parsed = parse_row(row);
      if (!parsed) return make_error(parsed.error());
      out.push_back(as_shown(std::move(parsed).value()));
    }
    return ok_status();
  };
  if (auto st = add(select_sql("WHERE state = 'pending' AND deadline > now() ORDER BY created")); !st) {
    return make_error(st.error());
  }
  if (recent) {
    if (auto st = add(select_sql("WHERE NOT (state = 'pending' AND deadline > now()) ORDER BY created DESC LIMIT " +
                                 std::to_string(kRecentListed)));
        !st) {
      return make_error(st.error());
    }
  }
  return out;
}

Result<std::optional<Request>> SharedApprovalStore::find(const std::string& id) {
  std::lock_guard lock(admin_mu_);
  const auto until = deadline();
  if (auto st = admin_ready(until); !st) return make_error("cannot reach the approval store: " + st.error());
  auto rows = admin_.exec(select_sql("WHERE id = $1"), {id}, until);
  if (!rows) return make_error(rows.error());
  if (rows->empty()) return std::optional<Request>();
  auto parsed = parse_row((*rows)[0]);
  if (!parsed) return make_error(parsed.error());
  return std::optional<Request>(as_shown(std::move(parsed).value()));
}

}  // namespace pgw::approval
