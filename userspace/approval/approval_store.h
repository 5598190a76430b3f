// One approval queue for every pgwarden node: requests kept in a table of a
// PostgreSQL database (`approval.store.dsn_file`).
//
// Each node still holds its own clients (the queue's Deliver callbacks and
// timers stay local); the table is what every node lists and decides. A
// node learns that another decided one of its requests through
// LISTEN/NOTIFY on kNotifyChannel, and after a reconnect by reading its
// requests' rows again.
//
// Nothing runs unapproved: a decision counts only once it is committed in
// the table, so while the database is unreachable nobody can approve, and
// the owning node's timer answers its clients with the timeout.
//
// Threads. The store has one thread with its own connection: it LISTENs,
// and writes what loop threads and the queue's timer hand it (insert,
// mark_ended, expire never block). Decisions and listings come from the
// admin HTTP thread and run on a second connection, bounded by a timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "approval/approval_queue.h"
#include "approval/store_connection.h"
#include "common/result.h"

namespace pgw::approval {

// How a request stands in the store, as its node applies it.
struct StoredState {
  std::string id;
  State state = State::pending;
  std::vector<std::string> approved_by;
  std::string decided_by;
  std::string reason;
  std::optional<std::chrono::milliseconds> grant_for;
};

// What the queue needs of a store shared by several nodes. The real one is
// SharedApprovalStore; unit tests use a fake.
class ApprovalStore {
 public:
  // How the store reaches back into the queue, on the store's own thread.
  struct Hooks {
    std::function<bool(const std::string& id)> holds;       // one of this node's pending requests?
    std::function<std::vector<std::string>()> pending_ids;  // all of them (re-read after a reconnect)
    std::function<void(const StoredState&)> changed;        // a row of this node changed
  };
  virtual ~ApprovalStore() = default;
  virtual void start(Hooks hooks) = 0;

  // Queued for the store's thread; never block (loop threads call insert).
  virtual void insert(const Request& r) = 0;
  // The request ended on this node (withdrawn, aborted, timed out): the row
  // says so unless someone decided it first.
  virtual void mark_ended(const Request& r) = 0;
  // The deadline passed: the row becomes timed_out unless decided, and the
  // result comes back through Hooks::changed (timed_out at once when the
  // database is unreachable).
  virtual void expire(const std::string& id) = 0;

  // Blocking, bounded by the store's timeout (the admin HTTP thread).
  virtual ApprovalQueue::Decided approve(const std::string& id, const Approver& who,
                                         std::optional<std::chrono::milliseconds> grant_for) = 0;
  virtual ApprovalQueue::Decided deny(const std::string& id, const Approver& who, std::string reason) = 0;
  virtual Result<std::vector<Request>> list(bool recent) = 0;
  virtual Result<std::optional<Request>> find(const std::string& id) = 0;
};

class SharedApprovalStore final : public ApprovalStore {
 public:
  struct Options {
    std::string conninfo;                            // libpq connection string
    std::chrono::milliseconds timeout{5000};         // one connect, one decision, one listing
    std::chrono::milliseconds max_backoff{30'000};   // between reconnect attempts
  };

  // Connects once and creates or checks the schema. An unreachable
  // database is not an error (requests wait for it, and time out until it
  // answers); a schema newer than this pgwarden, or one it may not create
  // or read, is.
  static Result<std::unique_ptr<SharedApprovalStore>> open(Options options);
  // The same, with the connection string read from `dsn_file`.
  static Result<std::unique_ptr<SharedApprovalStore>> open_file(const std::string& dsn_file);
  ~SharedApprovalStore() override;

  void start(Hooks hooks) override;
  void insert(const Request& r) override;
  void mark_ended(const Request& r) override;
  void expire(const std::string& id) override;
  ApprovalQueue::Decided approve(const std::string& id, const Approver& who,
                                 std::optional<std::chrono::milliseconds> grant_for) override;
  ApprovalQueue::Decided deny(const std::string& id, const Approver& who, std::string reason) override;
  Result<std::vector<Request>> list(bool recent) override;
  Result<std::optional<Request>> find(const std::string& id) override;

 private:
  // What the store's thread is to write, in order.
  struct Op {
    enum class Kind : uint8_t { insert, mark, expire };
    Kind kind = Kind::insert;
    Request request;             // insert, mark: the request; expire: its id
    bool inserted = true;        // expire: false when the insert never left the outbox
  };
  enum class Setup : uint8_t { ok, unreachable, refused };
  struct SetupResult {
    Setup setup;
    std::string why;
  };

  explicit SharedApprovalStore(Options options);
  SetupResult connect_listener();
  void run();
  bool run_op(const Op& op);  // false: the connection is gone, retry it later
  void answer_without_database();
  void read_back(const std::vector<std::string>& ids);
  void went_down(const std::string& why);
  StoreConnection::Clock::time_point deadline() const;

  // A decision in one transaction on the admin connection.
  using Rule = std::function<ApprovalQueue::Decided(Request&, const std::string& requester_user)>;
  Status admin_ready(StoreConnection::Clock::time_point until);
  ApprovalQueue::Decided decide(const std::string& id, const Rule& rule);

  const Options options_;
  Hooks hooks_;

  // The store thread's state.
  StoreConnection listener_;
  std::thread thread_;
  int wake_fd_ = -1;  // work in the outbox
  int stop_fd_ = -1;  // the destructor: also ends a connect attempt
  std::atomic<bool> up_{false};  // the listening connection works
  bool outage_logged_ = false;

  std::mutex mu_;
  std::deque<Op> outbox_;
  bool stopping_ = false;

  // The admin thread's connection.
  std::mutex admin_mu_;
  StoreConnection admin_;
};

// The table's `request` column: what to_json writes, plus what the rules
// and a standing grant need (exposed for tests).
nlohmann::json stored_request_json(const Request& r, const std::string& requester_user);
// Fills the parts of `r` the column holds; returns the requester's user
// name as stored.
std::string read_stored_request_json(const nlohmann::json& j, Request& r);

}  // namespace pgw::approval
