// The daemon's approval queue: statements held by loop threads, waiting for
// people to decide them over the admin socket or the web console.
//
// A loop thread submits a request with a Deliver callback and goes on with
// its other sessions; the client's messages wait in the session. Whoever
// decides (the admin HTTP thread), the queue's timer thread (timeouts) or the
// session itself (cancel, disconnect) ends the request, and Deliver carries
// the outcome back — it must only post to the loop thread, never block.
// Every state change goes through one mutex; nothing here is on the data
// path of statements that need no approval.
//
// Rules kept here, in one place:
//   - a request needs `min_approvals` distinct approvers; one denial ends it;
//   - nobody decides a request of their own uid (nor a console user named
//     like the requester's unix user);
//   - a decision is used once: the held statement runs once;
//   - `approve --for D` also lets the same statement shape from the same
//     identity run without a new request until it expires.
// (approval_rules.h has them.)
//
// With a shared store (use_store, approval_store.h) the requests of every
// node are kept in one database: this node still holds its clients, their
// Deliver callbacks and timers, while listing and deciding go to the store,
// and the store tells this node when one of its requests changed there.
#pragma once

#include <chrono>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "approval/approval_request.h"
#include "common/result.h"

namespace pgw::approval {

class ApprovalStore;
struct StoredState;

// Someone deciding, as the admin layer authenticated them.
struct Approver {
  std::string name;             // unix user name, or console user name
  std::optional<uint32_t> uid;  // on the admin socket
  std::string via;              // "admin socket", "console"
};

// Counts for status and /metrics.
struct QueueCounters {
  uint64_t requested = 0;
  uint64_t approved = 0;
  uint64_t denied = 0;
  uint64_t timed_out = 0;
  uint64_t withdrawn = 0;
  uint64_t aborted = 0;
  uint64_t granted_standing = 0;  // statements run under an `approve --for` grant
  uint64_t pending = 0;
};

class ApprovalQueue {
 public:
  using Deliver = std::function<void(const Outcome&)>;
  // What changed, for the log, the webhook and the console's feed.
  enum class Event : uint8_t { requested, approval_added, decided };
  using Observer = std::function<void(Event, const Request&)>;

  explicit ApprovalQueue(std::string node);
  ~ApprovalQueue();
  ApprovalQueue(const ApprovalQueue&) = delete;
  ApprovalQueue& operator=(const ApprovalQueue&) = delete;

  // Keeps requests in a store shared with other nodes from now on. Call
  // once, before the first submit(). Ids then carry a random tag of this
  // process ("<node>-<tag>-<n>"): two pgwardens of one host, or one
  // restarted, never reuse an id still in the store.
  void use_store(std::unique_ptr<ApprovalStore> store);

  // Observers run on the thread that made the change, outside the lock.
  // remove_observer() returns once no call of it is running.
  int add_observer(Observer observer);
  void remove_observer(int id);

  // Holds a statement; returns the request as queued (its id set).
  Request submit(Request request, Deliver deliver);
  // The approver of a standing grant covering this identity and shape, or
  // nothing. Counts the use.
  std::optional<std::string> standing_grant(const std::string& identity, const std::string& shape);

  // What a decision did; `refusal` says why it did nothing.
  struct Decided {
    enum class Refusal : uint8_t { none, unknown_id, already_decided, own_request, already_approved, unavailable };
    Refusal refusal = Refusal::none;
    std::string error;  // one sentence, for the decider
    Request request;    // as it stands after the decision
  };
  Decided approve(const std::string& id, const Approver& who,
                  std::optional<std::chrono::milliseconds> grant_for = std::nullopt);
  Decided deny(const std::string& id, const Approver& who, std::string reason);
  // The client canceled or went away: the request ends, nothing runs.
  bool withdraw(const std::string& id, std::string why);
  // Withdraws the pending request of a session (a CancelRequest names the
  // session, not the request). True when there was one.
  bool withdraw_session(uint64_t session, std::string why);
  // Shutdown: every pending request ends (aborted) and its client is told;
  // requests submitted afterwards are aborted at once.
  void abort_all(std::string why);

  // Pending requests, oldest first; with `recent`, also the last decided
  // ones (newest first after the pending ones).
  std::vector<Request> list(bool recent = false) const;
  std::optional<Request> find(const std::string& id) const;
  QueueCounters counters() const;
  // Standing grants in force: identity, shape, approver, expiry.
  struct Grant {
    std::string identity, shape, approver;
    std::chrono::system_clock::time_point expires;
  };
  std::vector<Grant> grants() const;

 private:
  struct Entry {
    Request request;
    Deliver deliver;
    bool expiry_asked = false;  // the store was asked to time it out
  };
  // Ends a pending request; returns what to tell and whom (call outside the lock).
  struct Ended {
    Request request;
    Deliver deliver;
  };
  Ended end_locked(std::map<std::string, Entry>::iterator it, State state, std::string by, std::string reason);
  void finish(Ended ended);
  void notify(Event e, const Request& r);
  void run_timer();
  // A request of this node changed in the store (the store's thread).
  void on_stored(const StoredState& s);
  ApprovalStore* store() const { return store_ptr_.load(); }
  static std::string requester_user(const Request& r, const Approver& who);
  // The refusal for an id that is not pending (under the lock).
  Decided not_pending_locked(const std::string& id) const;

  const std::string node_;
  std::unique_ptr<ApprovalStore> store_;
  std::atomic<ApprovalStore*> store_ptr_{nullptr};  // read without the lock (admin calls)
  mutable std::mutex mu_;
  std::string id_prefix_;  // node_, or node_-tag with a store
  std::condition_variable wake_timer_;
  std::map<std::string, Entry> pending_;
  std::vector<Request> recent_;  // decided, newest last, bounded
  std::map<std::pair<std::string, std::string>, Grant> grants_;
  std::map<int, std::shared_ptr<Observer>> observers_;
  int next_observer_ = 1;
  uint64_t next_ = 1;
  QueueCounters counters_;
  bool stopping_ = false;
  bool closed_ = false;  // abort_all() ran: new requests are aborted at once
  std::thread timer_;
};

}  // namespace pgw::approval
