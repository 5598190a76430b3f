#include "approval/approval_queue.h"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "approval/approval_rules.h"
#include "approval/approval_store.h"
#include "common/instance_name.h"

namespace pgw::approval {

namespace {

using Clock = std::chrono::system_clock;
constexpr size_t kRecentKept = 200;
// With a store, a request past its deadline is timed out there first (a
// decision made just before wins). If the store has not answered this long
// after, the timer answers the client itself.
constexpr std::chrono::seconds kExpiryGrace{3};

}  // namespace

ApprovalQueue::ApprovalQueue(std::string node) : node_(std::move(node)), id_prefix_(node_) {
  timer_ = std::thread([this] { run_timer(); });
}

ApprovalQueue::~ApprovalQueue() {
  abort_all("pgwarden is shutting down");
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_timer_.notify_all();
  if (timer_.joinable()) timer_.join();
  // Its thread calls back into this queue: it ends while all is still here.
  store_ptr_ = nullptr;
  store_.reset();
}

void ApprovalQueue::use_store(std::unique_ptr<ApprovalStore> store) {
  {
    std::lock_guard lock(mu_);
    id_prefix_ = node_ + "-" + instance_tag();
    store_ = std::move(store);
  }
  ApprovalStore::Hooks hooks;
  hooks.holds = [this](const std::string& id) {
    std::lock_guard lock(mu_);
    return pending_.count(id) != 0;
  };
  hooks.pending_ids = [this] {
    std::lock_guard lock(mu_);
    std::vector<std::string> ids;
    for (const auto& [id, e] : pending_) ids.push_back(id);
    return ids;
  };
  hooks.changed = [this](const StoredState& s) { on_stored(s); };
  store_->start(std::move(hooks));
  store_ptr_ = store_.get();
}

int ApprovalQueue::add_observer(Observer observer) {
  std::lock_guard lock(mu_);
  const int id = next_observer_++;
  observers_.emplace(id, std::make_shared<Observer>(std::move(observer)));
  return id;
}

void ApprovalQueue::remove_observer(int id) {
  std::shared_ptr<Observer> gone;
  {
    std::lock_guard lock(mu_);
    auto it = observers_.find(id);
    if (it == observers_.end()) return;
    gone = std::move(it->second);
    observers_.erase(it);
  }
  // Wait for calls in flight: each holds a reference.
  while (gone.use_count() > 1) std::this_thread::yield();
}

void ApprovalQueue::notify(Event e, const Request& r) {
  std::vector<std::shared_ptr<Observer>> observers;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, o] : observers_) observers.push_back(o);
  }
  for (const auto& o : observers) (*o)(e, r);
}

Request ApprovalQueue::submit(Request request, Deliver deliver) {
  Request queued;
  {
    std::unique_lock lock(mu_);
    if (closed_) {
      // Shutting down: answered at once, nothing waits.
      lock.unlock();
      request.id = node_ + "-closed";
      request.state = State::aborted;
      request.reason = "pgwarden is shutting down";
      if (deliver) deliver(Outcome{State::aborted, request.id, {}, request.reason});
      return request;
    }
    request.id = id_prefix_ + "-" + std::to_string(next_++);
    request.node = node_;
    request.state = State::pending;
    if (request.created == Clock::time_point{}) request.created = Clock::now();
    queued = request;
    ++counters_.requested;
    const std::string id = request.id;  // the key, before the request moves into the entry
    pending_.emplace(id, Entry{std::move(request), std::move(deliver)});
    // Under the lock, so that the row is written before any mark of it.
    if (ApprovalStore* s = store()) s->insert(queued);
  }
  wake_timer_.notify_all();
  spdlog::info("approval {}: requested for session {} ({}): {}, statement sha256 {}", queued.id, session_name(queued.session),
               describe(queued.requester), queued.ask.rule, queued.ask.statement_hash.substr(0, 16));
  notify(Event::requested, queued);
  return queued;
}

std::optional<std::string> ApprovalQueue::standing_grant(const std::string& identity, const std::string& shape) {
  std::lock_guard lock(mu_);
  auto it = grants_.find({identity, shape});
  if (it == grants_.end()) return std::nullopt;
  if (it->second.expires <= Clock::now()) {
    grants_.erase(it);
    return std::nullopt;
  }
  ++counters_.granted_standing;
  return it->second.approver;
}

// The requester's unix user name, when the rules need it (an approver
// without a uid: a console user).
std::string ApprovalQueue::requester_user(const Request& r, const Approver& who) {
  return who.uid || !r.requester.uid ? std::string() : unix_user_name(*r.requester.uid);
}

ApprovalQueue::Decided ApprovalQueue::not_pending_locked(const std::string& id) const {
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
    if (it->id == id) return not_pending(*it);
  }
  return {Decided::Refusal::unknown_id, "no approval request " + id, {}};
}

ApprovalQueue::Decided ApprovalQueue::approve(const std::string& id, const Approver& who,
                                              std::optional<std::chrono::milliseconds> grant_for) {
  // The store decides for every node; the owner learns it (on_stored).
  if (ApprovalStore* s = store()) return s->approve(id, who, grant_for);
  Ended ended;
  Request now;
  bool complete = false;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return not_pending_locked(id);
    Request& r = it->second.request;
    Decided d = apply_approval(r, who, requester_user(r, who), grant_for);
    if (d.refusal != Decided::Refusal::none) return d;
    if (r.state == State::approved) {
      if (r.grant_for) {
        grants_[{r.requester.identity, r.ask.shape}] =
            Grant{r.requester.identity, r.ask.shape, who.name, Clock::now() + *r.grant_for};
      }
      ended = end_locked(it, State::approved, who.name, {});
      now = ended.request;
      complete = true;
    } else {
      now = r;
    }
  }
  spdlog::info("approval {}: approved by {} via {} ({} of {}){}", id, who.name, who.via, now.approved_by.size(),
               now.min_approvals,
               now.grant_for && complete ? ", standing for " + std::to_string(now.grant_for->count() / 1000) + "s"
                                         : std::string());
  if (complete) {
    finish(std::move(ended));
  } else {
    notify(Event::approval_added, now);
  }
  return {Decided::Refusal::none, {}, now};
}

ApprovalQueue::Decided ApprovalQueue::deny(const std::string& id, const Approver& who, std::string reason) {
  if (ApprovalStore* s = store()) return s->deny(id, who, std::move(reason));
  Ended ended;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return not_pending_locked(id);
    Request& r = it->second.request;
    Decided d = apply_denial(r, who, requester_user(r, who), std::move(reason));
    if (d.refusal != Decided::Refusal::none) return d;
    std::string why = r.reason;  // end_locked moves the request it is part of
    ended = end_locked(it, State::denied, who.name, std::move(why));
  }
  spdlog::info("approval {}: denied by {} via {}: {}", id, who.name, who.via, ended.request.reason);
  Request r = ended.request;
  finish(std::move(ended));
  return {Decided::Refusal::none, {}, r};
}

bool ApprovalQueue::withdraw(const std::string& id, std::string why) {
  Ended ended;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return false;
    ended = end_locked(it, State::withdrawn, {}, std::move(why));
    if (ApprovalStore* s = store()) s->mark_ended(ended.request);
  }
  spdlog::info("approval {}: withdrawn: {}", id, ended.request.reason);
  finish(std::move(ended));
  return true;
}

bool ApprovalQueue::withdraw_session(uint64_t session, std::string why) {
  std::string id;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, e] : pending_) {
      if (e.request.session == session) id = key;
    }
  }
  return !id.empty() && withdraw(id, std::move(why));
}

void ApprovalQueue::abort_all(std::string why) {
  std::vector<Ended> all;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    while (!pending_.empty()) {
      all.push_back(end_locked(pending_.begin(), State::aborted, {}, why));
      if (ApprovalStore* s = store()) s->mark_ended(all.back().request);
    }
  }
  for (auto& e : all) {
    spdlog::info("approval {}: not decided: {}", e.request.id, why);
    finish(std::move(e));
  }
}

ApprovalQueue::Ended ApprovalQueue::end_locked(std::map<std::string, Entry>::iterator it, State state,
                                               std::string by, std::string reason) {
  Ended ended{std::move(it->second.request), std::move(it->second.deliver)};
  pending_.erase(it);
  ended.request.state = state;
  ended.request.decided_by = std::move(by);
  ended.request.reason = std::move(reason);
  switch (state) {
    case State::approved: ++counters_.approved; break;
    case State::denied: ++counters_.denied; break;
    case State::timed_out: ++counters_.timed_out; break;
    case State::withdrawn: ++counters_.withdrawn; break;
    case State::aborted: ++counters_.aborted; break;
    case State::pending: break;
  }
  recent_.push_back(ended.request);
  if (recent_.size() > kRecentKept) recent_.erase(recent_.begin());
  return ended;
}

void ApprovalQueue::finish(Ended ended) {
  if (ended.deliver) {
    ended.deliver(Outcome{ended.request.state, ended.request.id, ended.request.decided_by, ended.request.reason});
  }
  notify(Event::decided, ended.request);
}

void ApprovalQueue::run_timer() {
  std::unique_lock lock(mu_);
  // When an entry is due: at its deadline, or with the store asked to time
  // it out, when the store is late with the answer.
  auto due_at = [](const Entry& e) { return e.expiry_asked ? e.request.deadline + kExpiryGrace : e.request.deadline; };
  while (!stopping_) {
    auto next = Clock::time_point::max();
    for (const auto& [id, e] : pending_) next = std::min(next, due_at(e));
    if (next == Clock::time_point::max()) {
      wake_timer_.wait(lock);
      continue;
    }
    if (Clock::now() < next) {
      wake_timer_.wait_until(lock, next);
      continue;
    }
    std::vector<Ended> due;
    const auto now = Clock::now();
    ApprovalStore* store = this->store();
    for (auto it = pending_.begin(); it != pending_.end();) {
      auto here = it++;
      Entry& e = here->second;
      if (due_at(e) > now) continue;
      if (store != nullptr && !e.expiry_asked) {
        e.expiry_asked = true;
        store->expire(e.request.id);  // the answer comes through on_stored()
        continue;
      }
      due.push_back(end_locked(here, State::timed_out, {}, "no decision in time"));
      if (store != nullptr) store->mark_ended(due.back().request);
    }
    lock.unlock();
    for (auto& e : due) {
      spdlog::info("approval {}: timed out", e.request.id);
      finish(std::move(e));
    }
    lock.lock();
  }
}

void ApprovalQueue::on_stored(const StoredState& s) {
  Ended ended;
  Request now;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(s.id);
    if (it == pending_.end()) return;  // ended here already (withdrawn, timed out)
    Request& r = it->second.request;
    const bool more_approvals = s.approved_by != r.approved_by;
    r.approved_by = s.approved_by;
    r.grant_for = s.grant_for;
    if (s.state == State::pending) {
      if (!more_approvals || r.approved_by.empty()) return;
      now = r;
    } else {
      // The owning node keeps the standing grant: its clients use it.
      if (s.state == State::approved && s.grant_for) {
        grants_[{r.requester.identity, r.ask.shape}] =
            Grant{r.requester.identity, r.ask.shape, s.decided_by, Clock::now() + *s.grant_for};
      }
      ended = end_locked(it, s.state, s.decided_by, s.reason);
    }
  }
  if (ended.request.id.empty()) {
    spdlog::info("approval {}: approved by {} ({} of {}), in the shared store", now.id, now.approved_by.back(),
                 now.approved_by.size(), now.min_approvals);
    notify(Event::approval_added, now);
    return;
  }
  const Request& r = ended.request;
  if (r.state == State::approved) {
    spdlog::info("approval {}: approved by {} in the shared store{}", r.id, r.decided_by,
                 r.grant_for ? ", standing for " + std::to_string(r.grant_for->count() / 1000) + "s" : std::string());
  } else if (r.state == State::denied) {
    spdlog::info("approval {}: denied by {} in the shared store: {}", r.id, r.decided_by, r.reason);
  } else {
    spdlog::info("approval {}: {}: {}", r.id, to_string(r.state), r.reason);
  }
  finish(std::move(ended));
}

std::vector<Request> ApprovalQueue::list(bool recent) const {
  // Every node's requests. Without the database, this node's own are still
  // worth showing (nobody can decide them until it is back).
  if (ApprovalStore* s = store()) {
    auto stored = s->list(recent);
    if (stored) return std::move(stored).value();
    spdlog::debug("approvals list: {}; showing this node's requests only", stored.error());
  }
  std::lock_guard lock(mu_);
  std::vector<Request> out;
  for (const auto& [id, e] : pending_) out.push_back(e.request);
  std::sort(out.begin(), out.end(), [](const Request& a, const Request& b) { return a.created < b.created; });
  if (recent) out.insert(out.end(), recent_.rbegin(), recent_.rend());
  return out;
}

std::optional<Request> ApprovalQueue::find(const std::string& id) const {
  if (ApprovalStore* s = store()) {
    auto stored = s->find(id);
    if (stored) return std::move(stored).value();
    spdlog::debug("approval {}: {}; showing this node's view", id, stored.error());
  }
  std::lock_guard lock(mu_);
  if (auto it = pending_.find(id); it != pending_.end()) return it->second.request;
  for (auto it = recent_.rbegin(); it != recent_.rend(); ++it) {
    if (it->id == id) return *it;
  }
  return std::nullopt;
}

QueueCounters ApprovalQueue::counters() const {
  std::lock_guard lock(mu_);
  QueueCounters c = counters_;
  c.pending = pending_.size();
  return c;
}

std::vector<ApprovalQueue::Grant> ApprovalQueue::grants() const {
  std::lock_guard lock(mu_);
  std::vector<Grant> out;
  const auto now = Clock::now();
  for (const auto& [key, g] : grants_) {
    if (g.expires > now) out.push_back(g);
  }
  return out;
}

}  // namespace pgw::approval
