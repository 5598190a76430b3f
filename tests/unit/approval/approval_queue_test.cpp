// The approval queue's rules, each once: k-of-n, one denial ends it, no
// self-approval, used once, standing grants by identity and shape, timeouts,
// withdrawal, shutdown. Outcomes are what the held client would be told.
#include "approval/approval_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <thread>
#include <mutex>
#include <vector>

namespace pgw::approval {
namespace {

using namespace std::chrono_literals;

// Collects the outcomes delivered for the requests it made. Declared before
// the queue in each test: the queue's destructor answers requests still
// waiting, and must find their client alive.
struct Client {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Outcome> outcomes;

  ApprovalQueue::Deliver deliver() {
    return [this](const Outcome& o) {
      std::lock_guard lock(mu);
      outcomes.push_back(o);
      cv.notify_all();
    };
  }
  Outcome wait() {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, 5s, [&] { return !outcomes.empty(); }));
    return outcomes.empty() ? Outcome{} : outcomes.back();
  }
  size_t count() {
    std::lock_guard lock(mu);
    return outcomes.size();
  }
};

Request request(unsigned min_approvals = 1, std::optional<uint32_t> uid = 1000, std::string shape = "abc",
                std::chrono::milliseconds timeout = 60s) {
  Request r;
  r.session = 7;
  r.upstream = "orders";
  r.requester.identity = "agent";
  r.requester.uid = uid;
  r.ask.sql = "DROP TABLE t";
  r.ask.rule = "approve: ddl";
  r.ask.shape = std::move(shape);
  r.min_approvals = min_approvals;
  r.created = std::chrono::system_clock::now();
  r.deadline = r.created + timeout;
  return r;
}

const Approver kRoot{"root", 0, "admin socket"};
const Approver kBob{"bob", 1001, "admin socket"};
const Approver kAlice{"alice", std::nullopt, "console"};

TEST(ApprovalQueue, SubmittedRequestsAreListedWithTheirIds) {
  Client c;
  ApprovalQueue q("node");
  const Request a = q.submit(request(), c.deliver());
  const Request b = q.submit(request(), c.deliver());
  EXPECT_EQ(a.id, "node-1");
  EXPECT_EQ(b.id, "node-2");
  ASSERT_EQ(q.list().size(), 2u);
  EXPECT_EQ(q.find("node-1")->ask.sql, "DROP TABLE t");
  EXPECT_EQ(q.counters().pending, 2u);
  EXPECT_EQ(c.count(), 0u);
}

TEST(ApprovalQueue, KOfNNeedsDistinctApprovers) {
  Client c;
  ApprovalQueue q("n");
  const std::string id = q.submit(request(2), c.deliver()).id;
  auto first = q.approve(id, kRoot);
  EXPECT_EQ(first.refusal, ApprovalQueue::Decided::Refusal::none);
  EXPECT_EQ(first.request.state, State::pending);
  auto again = q.approve(id, kRoot);
  EXPECT_EQ(again.refusal, ApprovalQueue::Decided::Refusal::already_approved);
  EXPECT_EQ(c.count(), 0u);
  auto second = q.approve(id, kBob);
  EXPECT_EQ(second.request.state, State::approved);
  const Outcome o = c.wait();
  EXPECT_EQ(o.state, State::approved);
  EXPECT_EQ(o.decided_by, "bob");
  // Used once: nothing more to decide.
  EXPECT_EQ(q.approve(id, kAlice).refusal, ApprovalQueue::Decided::Refusal::already_decided);
  EXPECT_EQ(c.count(), 1u);
}

TEST(ApprovalQueue, OneDenialEndsARequestThatNeedsMore) {
  Client c;
  ApprovalQueue q("n");
  const std::string id = q.submit(request(3), c.deliver()).id;
  q.approve(id, kRoot);
  auto d = q.deny(id, kBob, "not now");
  EXPECT_EQ(d.refusal, ApprovalQueue::Decided::Refusal::none);
  const Outcome o = c.wait();
  EXPECT_EQ(o.state, State::denied);
  EXPECT_EQ(o.reason, "not now");
  EXPECT_EQ(q.counters().denied, 1u);
}

TEST(ApprovalQueue, NobodyDecidesTheirOwnRequest) {
  Client c;
  ApprovalQueue q("n");
  const std::string id = q.submit(request(1, 1001), c.deliver()).id;
  EXPECT_EQ(q.approve(id, kBob).refusal, ApprovalQueue::Decided::Refusal::own_request);
  EXPECT_EQ(q.deny(id, kBob, "x").refusal, ApprovalQueue::Decided::Refusal::own_request);
  // root's own: uid 0 requests are root's.
  const std::string mine = q.submit(request(1, 0), c.deliver()).id;
  EXPECT_EQ(q.approve(mine, kRoot).refusal, ApprovalQueue::Decided::Refusal::own_request);
  // A console user named like the requester's unix user is that user.
  const std::string roots = q.submit(request(1, 0), c.deliver()).id;
  EXPECT_EQ(q.approve(roots, Approver{"root", std::nullopt, "console"}).refusal,
            ApprovalQueue::Decided::Refusal::own_request);
  // An explicit TCP client has no uid: anyone listed may decide.
  const std::string tcp = q.submit(request(1, std::nullopt), c.deliver()).id;
  EXPECT_EQ(q.approve(tcp, kRoot).refusal, ApprovalQueue::Decided::Refusal::none);
}

TEST(ApprovalQueue, UnknownIdsAreRefused) {
  ApprovalQueue q("n");
  EXPECT_EQ(q.approve("n-99", kRoot).refusal, ApprovalQueue::Decided::Refusal::unknown_id);
  EXPECT_EQ(q.deny("", kRoot, "x").refusal, ApprovalQueue::Decided::Refusal::unknown_id);
  EXPECT_FALSE(q.withdraw("n-99", "x"));
}

TEST(ApprovalQueue, StandingGrantCoversTheSameShapeFromTheSameIdentityUntilItExpires) {
  Client c;
  ApprovalQueue q("n");
  const std::string id = q.submit(request(1, 1000, "shape-1"), c.deliver()).id;
  EXPECT_FALSE(q.standing_grant("agent", "shape-1"));
  q.approve(id, kRoot, 200ms);
  EXPECT_EQ(q.standing_grant("agent", "shape-1"), "root");
  EXPECT_FALSE(q.standing_grant("agent", "shape-2"));
  EXPECT_FALSE(q.standing_grant("other-agent", "shape-1"));
  EXPECT_EQ(q.counters().granted_standing, 1u);
  std::this_thread::sleep_for(250ms);
  EXPECT_FALSE(q.standing_grant("agent", "shape-1"));
  EXPECT_TRUE(q.grants().empty());
}

TEST(ApprovalQueue, AGrantWaitsForTheLastApproval) {
  Client c;
  ApprovalQueue q("n");
  const std::string id = q.submit(request(2, 1000, "s"), c.deliver()).id;
  q.approve(id, kRoot, 10min);
  EXPECT_FALSE(q.standing_grant("agent", "s"));  // one of two: not approved yet
  q.approve(id, kBob);
  EXPECT_TRUE(q.standing_grant("agent", "s"));
}

TEST(ApprovalQueue, TimeoutEndsTheRequest) {
  Client c;
  ApprovalQueue q("n");
  const std::string id = q.submit(request(1, 1000, "s", 100ms), c.deliver()).id;
  const Outcome o = c.wait();
  EXPECT_EQ(o.state, State::timed_out);
  EXPECT_EQ(o.id, id);
  EXPECT_TRUE(q.list().empty());
  EXPECT_EQ(q.approve(id, kRoot).refusal, ApprovalQueue::Decided::Refusal::already_decided);
}

TEST(ApprovalQueue, WithdrawBySessionTellsTheClient) {
  Client c;
  ApprovalQueue q("n");
  q.submit(request(), c.deliver());
  EXPECT_FALSE(q.withdraw_session(8, "canceled"));
  EXPECT_TRUE(q.withdraw_session(7, "canceled"));
  EXPECT_EQ(c.wait().state, State::withdrawn);
  EXPECT_EQ(q.counters().withdrawn, 1u);
}

TEST(ApprovalQueue, ShutdownAnswersEveryWaitingClientAndLaterOnesAtOnce) {
  Client a, b;
  ApprovalQueue q("n");
  q.submit(request(), a.deliver());
  q.abort_all("stopping");
  EXPECT_EQ(a.wait().state, State::aborted);
  const Request late = q.submit(request(), b.deliver());
  EXPECT_EQ(late.state, State::aborted);
  EXPECT_EQ(b.wait().state, State::aborted);
  EXPECT_TRUE(q.list().empty());
}

TEST(ApprovalQueue, ObserversSeeEveryChangeAndCanLeave) {
  Client c;
  ApprovalQueue q("n");
  std::vector<ApprovalQueue::Event> seen;
  const int id = q.add_observer([&](ApprovalQueue::Event e, const Request&) { seen.push_back(e); });
  const std::string r = q.submit(request(2), c.deliver()).id;
  q.approve(r, kRoot);
  q.approve(r, kBob);
  EXPECT_EQ(seen, (std::vector<ApprovalQueue::Event>{ApprovalQueue::Event::requested,
                                                      ApprovalQueue::Event::approval_added,
                                                      ApprovalQueue::Event::decided}));
  q.remove_observer(id);
  q.submit(request(), c.deliver());
  EXPECT_EQ(seen.size(), 3u);
}

}  // namespace
}  // namespace pgw::approval
