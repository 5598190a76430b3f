// The approval queue with a shared store: a fake store records what the
// queue hands it and plays the database through its hooks (the real store
// is tested against PostgreSQL in tests/integration/test_approvals_shared.py).
#include "approval/approval_queue.h"

#include <condition_variable>
#include <mutex>
#include <regex>

#include "approval/approval_store.h"

#include <gtest/gtest.h>

namespace pgw::approval {
namespace {

using namespace std::chrono_literals;
using Refusal = ApprovalQueue::Decided::Refusal;
using Clock = std::chrono::system_clock;

// Outcomes delivered to held clients, waited for as a loop thread would.
class Outcomes {
 public:
  ApprovalQueue::Deliver deliver() {
    return [this](const Outcome& o) {
      std::lock_guard lock(mu_);
      got_.push_back(o);
      cv_.notify_all();
    };
  }
  std::optional<Outcome> wait(std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !got_.empty(); })) return std::nullopt;
    Outcome o = got_.front();
    got_.erase(got_.begin());
    return o;
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return got_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Outcome> got_;
};

Request held(std::chrono::milliseconds timeout = 60s, uint32_t uid = 1000) {
  Request r;
  r.session = 7;
  r.requester.identity = "agent";
  r.requester.uid = uid;
  r.ask.sql = "DROP TABLE t";
  r.ask.shape = "DROP TABLE t";
  r.created = Clock::now();
  r.deadline = r.created + timeout;
  return r;
}

const Approver kDba{"dba", 0, "admin socket"};

// A store that records what the queue hands it; the test plays the
// database through the hooks.
class FakeStore final : public ApprovalStore {
 public:
  struct Calls {
    std::mutex mu;
    std::vector<Request> inserted, marked;
    std::vector<std::string> expired;
    Hooks hooks;
    std::optional<Result<std::vector<Request>>> listing;
  };
  explicit FakeStore(std::shared_ptr<Calls> calls) : calls_(std::move(calls)) {}
  void start(Hooks hooks) override { calls_->hooks = std::move(hooks); }
  void insert(const Request& r) override {
    std::lock_guard lock(calls_->mu);
    calls_->inserted.push_back(r);
  }
  void mark_ended(const Request& r) override {
    std::lock_guard lock(calls_->mu);
    calls_->marked.push_back(r);
  }
  void expire(const std::string& id) override {
    std::lock_guard lock(calls_->mu);
    calls_->expired.push_back(id);
  }
  ApprovalQueue::Decided approve(const std::string& id, const Approver& who,
                                 std::optional<std::chrono::milliseconds>) override {
    return {Refusal::unknown_id, "store: approve " + id + " by " + who.name, {}};
  }
  ApprovalQueue::Decided deny(const std::string& id, const Approver&, std::string reason) override {
    return {Refusal::unknown_id, "store: deny " + id + ": " + reason, {}};
  }
  Result<std::vector<Request>> list(bool) override {
    if (calls_->listing) return *calls_->listing;
    return make_error("unreachable");
  }
  Result<std::optional<Request>> find(const std::string&) override { return make_error("unreachable"); }

 private:
  std::shared_ptr<Calls> calls_;
};

struct Shared {
  std::shared_ptr<FakeStore::Calls> calls = std::make_shared<FakeStore::Calls>();
  ApprovalQueue queue{"node"};
  Shared() { queue.use_store(std::make_unique<FakeStore>(calls)); }
};

TEST(ApprovalQueueShared, SubmitHandsTheRequestToTheStoreWithAnIdOfThisProcess) {
  Outcomes out;  // outlives the queue, whose destructor still delivers to it
  Shared s;
  const Request r = s.queue.submit(held(), out.deliver());
  EXPECT_TRUE(std::regex_match(r.id, std::regex("node-[0-9a-f]{6}-1"))) << r.id;
  EXPECT_EQ(r.node, "node");
  ASSERT_EQ(s.calls->inserted.size(), 1u);
  EXPECT_EQ(s.calls->inserted[0].id, r.id);
  EXPECT_TRUE(s.calls->hooks.holds(r.id));
  EXPECT_EQ(s.calls->hooks.pending_ids(), std::vector<std::string>{r.id});
}

TEST(ApprovalQueueShared, DecisionsGoToTheStore) {
  Outcomes out;  // outlives the queue, whose destructor still delivers to it
  Shared s;
  const Request r = s.queue.submit(held(), out.deliver());
  EXPECT_EQ(s.queue.approve(r.id, kDba).error, "store: approve " + r.id + " by dba");
  EXPECT_EQ(s.queue.deny(r.id, kDba, "no").error, "store: deny " + r.id + ": no");
  EXPECT_EQ(out.count(), 0u);  // nothing is decided here: the store tells
}

TEST(ApprovalQueueShared, AnApprovalInTheStoreIsDeliveredAndItsGrantKeptHere) {
  Outcomes out;  // outlives the queue, whose destructor still delivers to it
  Shared s;
  std::vector<ApprovalQueue::Event> events;
  s.queue.add_observer([&](ApprovalQueue::Event e, const Request&) { events.push_back(e); });
  const Request r = s.queue.submit(held(), out.deliver());
  // Someone on another node approved once (of two, as the store counts): no delivery yet.
  s.calls->hooks.changed({r.id, State::pending, {"alice"}, "", "", std::nullopt});
  EXPECT_EQ(out.count(), 0u);
  EXPECT_EQ(s.queue.find(r.id)->approved_by, std::vector<std::string>{"alice"});
  s.calls->hooks.changed({r.id, State::approved, {"alice", "bob"}, "bob", "", 10min});
  auto o = out.wait();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->state, State::approved);
  EXPECT_EQ(o->decided_by, "bob");
  EXPECT_EQ(s.queue.standing_grant("agent", "DROP TABLE t"), std::optional<std::string>("bob"));
  EXPECT_EQ(s.queue.counters().approved, 1u);
  EXPECT_EQ(events, (std::vector<ApprovalQueue::Event>{ApprovalQueue::Event::requested,
                                                       ApprovalQueue::Event::approval_added,
                                                       ApprovalQueue::Event::decided}));
  // Told again (a reconnect reads it back): already ended, nothing happens.
  s.calls->hooks.changed({r.id, State::approved, {"alice", "bob"}, "bob", "", 10min});
  EXPECT_EQ(out.count(), 0u);
  EXPECT_TRUE(s.calls->marked.empty());
}

TEST(ApprovalQueueShared, AtTheDeadlineTheStoreIsAskedAndADecisionMadeFirstWins) {
  Outcomes out;  // outlives the queue, whose destructor still delivers to it
  Shared s;
  const Request r = s.queue.submit(held(50ms), out.deliver());
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(s.calls->mu);
      if (!s.calls->expired.empty()) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  {
    std::lock_guard lock(s.calls->mu);
    ASSERT_EQ(s.calls->expired, std::vector<std::string>{r.id});
  }
  EXPECT_EQ(out.count(), 0u);  // the store answers
  s.calls->hooks.changed({r.id, State::denied, {}, "carol", "too late anyway", std::nullopt});
  auto o = out.wait();
  ASSERT_TRUE(o);
  EXPECT_EQ(o->state, State::denied);
  EXPECT_EQ(o->reason, "too late anyway");
}

TEST(ApprovalQueueShared, AStoreThatDoesNotAnswerTheExpiryIsNotWaitedForLong) {
  Outcomes out;  // outlives the queue, whose destructor still delivers to it
  Shared s;
  const Request r = s.queue.submit(held(50ms), out.deliver());
  auto o = out.wait(10s);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->state, State::timed_out);
  std::lock_guard lock(s.calls->mu);
  ASSERT_EQ(s.calls->marked.size(), 1u);  // the row follows when the store can
  EXPECT_EQ(s.calls->marked[0].state, State::timed_out);
}

TEST(ApprovalQueueShared, WithdrawalsAreMarkedInTheStore) {
  Outcomes out;  // outlives the queue, whose destructor still delivers to it
  Shared s;
  const Request r = s.queue.submit(held(), out.deliver());
  EXPECT_TRUE(s.queue.withdraw(r.id, "client went away"));
  ASSERT_TRUE(out.wait());
  ASSERT_EQ(s.calls->marked.size(), 1u);
  EXPECT_EQ(s.calls->marked[0].id, r.id);
  EXPECT_EQ(s.calls->marked[0].state, State::withdrawn);
}

TEST(ApprovalQueueShared, ListingReadsTheStoreAndFallsBackToThisNode) {
  Outcomes out;  // outlives the queue, whose destructor still delivers to it
  Shared s;
  const Request r = s.queue.submit(held(), out.deliver());
  // Unreachable: this node's own requests.
  ASSERT_EQ(s.queue.list().size(), 1u);
  EXPECT_EQ(s.queue.list()[0].id, r.id);
  Request other = held();
  other.id = "other-abcdef-1";
  s.calls->listing = Result<std::vector<Request>>(std::vector<Request>{other, r});
  auto all = s.queue.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "other-abcdef-1");
}

TEST(ApprovalStoreRows, TheRequestColumnRoundTrips) {
  Request r = held();
  r.id = "n-abc123-4";
  r.upstream = "main";
  r.database = "app";
  r.requester.gid = 100;
  r.requester.pid = 4242;
  r.requester.comm = "psql";
  r.requester.cgroup = "/agents/a";
  r.requester.source = "127.0.0.1:5000";
  r.ask.classes = {"ddl"};
  r.ask.rule = "approve: ddl";
  r.ask.message = "pgwarden: drop on public.t requires approval";
  r.ask.statement_hash = "abc";
  r.notify = "https://hooks.example/secret";
  const auto j = stored_request_json(r, "agentuser");
  EXPECT_FALSE(j.contains("notify"));  // a webhook URL is a secret of its node
  EXPECT_FALSE(j.contains("age_s"));
  Request back;
  EXPECT_EQ(read_stored_request_json(j, back), "agentuser");
  EXPECT_EQ(back.session, r.session);
  EXPECT_EQ(back.upstream, "main");
  EXPECT_EQ(back.database, "app");
  EXPECT_EQ(back.requester.identity, "agent");
  EXPECT_EQ(back.requester.uid, r.requester.uid);
  EXPECT_EQ(back.requester.gid, r.requester.gid);
  EXPECT_EQ(back.requester.pid, r.requester.pid);
  EXPECT_EQ(back.requester.comm, "psql");
  EXPECT_EQ(back.requester.cgroup, "/agents/a");
  EXPECT_EQ(back.requester.source, "127.0.0.1:5000");
  EXPECT_EQ(back.ask.sql, r.ask.sql);
  EXPECT_EQ(back.ask.classes, r.ask.classes);
  EXPECT_EQ(back.ask.rule, r.ask.rule);
  EXPECT_EQ(back.ask.shape, r.ask.shape);
  EXPECT_EQ(back.ask.message, r.ask.message);
  EXPECT_EQ(back.ask.statement_hash, "abc");
  // A TCP client has no uid: none comes back.
  r.requester.uid.reset();
  Request tcp;
  read_stored_request_json(stored_request_json(r, ""), tcp);
  EXPECT_FALSE(tcp.requester.uid);
}

}  // namespace
}  // namespace pgw::approval
