// The decision rules shared by the local queue and the shared store.
#include "approval/approval_rules.h"

#include <gtest/gtest.h>

namespace pgw::approval {
namespace {

using namespace std::chrono_literals;
using Refusal = ApprovalQueue::Decided::Refusal;

Request pending(unsigned min_approvals = 1) {
  Request r;
  r.id = "node-1";
  r.requester.uid = 1000;
  r.min_approvals = min_approvals;
  return r;
}

Approver socket_user(std::string name, uint32_t uid) { return {std::move(name), uid, "admin socket"}; }
Approver console_user(std::string name) { return {std::move(name), std::nullopt, "console"}; }

TEST(ApprovalRules, OneApprovalEndsARequestThatNeedsOne) {
  Request r = pending();
  auto d = apply_approval(r, socket_user("dba", 0), "agent", std::nullopt);
  EXPECT_EQ(d.refusal, Refusal::none);
  EXPECT_EQ(r.state, State::approved);
  EXPECT_EQ(r.decided_by, "dba");
  EXPECT_EQ(r.approved_by, std::vector<std::string>{"dba"});
  EXPECT_EQ(d.request.state, State::approved);
}

TEST(ApprovalRules, DistinctApproversUpToMinApprovals) {
  Request r = pending(2);
  ASSERT_EQ(apply_approval(r, socket_user("dba", 0), "", std::nullopt).refusal, Refusal::none);
  EXPECT_EQ(r.state, State::pending);
  auto again = apply_approval(r, socket_user("dba", 0), "", std::nullopt);
  EXPECT_EQ(again.refusal, Refusal::already_approved);
  EXPECT_NE(again.error.find("1 of 2"), std::string::npos) << again.error;
  EXPECT_EQ(r.approved_by.size(), 1u);
  ASSERT_EQ(apply_approval(r, console_user("carol"), "agent", std::nullopt).refusal, Refusal::none);
  EXPECT_EQ(r.state, State::approved);
  EXPECT_EQ(r.decided_by, "carol");
  EXPECT_EQ(r.approved_by, (std::vector<std::string>{"dba", "carol"}));
}

TEST(ApprovalRules, NoSelfApprovalByUidOrByConsoleName) {
  Request r = pending();
  auto by_uid = apply_approval(r, socket_user("agent", 1000), "agent", std::nullopt);
  EXPECT_EQ(by_uid.refusal, Refusal::own_request);
  EXPECT_NE(by_uid.error.find("uid 1000"), std::string::npos) << by_uid.error;
  EXPECT_EQ(apply_denial(r, socket_user("x", 1000), "", "no").refusal, Refusal::own_request);
  EXPECT_EQ(apply_approval(r, console_user("agent"), "agent", std::nullopt).refusal, Refusal::own_request);
  EXPECT_EQ(r.state, State::pending);
  EXPECT_TRUE(r.approved_by.empty());
  // Another uid with the same name is not the requester: uids decide on the socket.
  EXPECT_EQ(apply_approval(r, socket_user("agent", 0), "agent", std::nullopt).refusal, Refusal::none);
}

TEST(ApprovalRules, ARequestWithoutUidHasNoOwner) {
  Request r = pending();
  r.requester.uid.reset();  // an explicit TCP client
  EXPECT_FALSE(own_request(r, socket_user("dba", 1000), ""));
  EXPECT_FALSE(own_request(r, console_user("agent"), "agent"));
}

TEST(ApprovalRules, OneDenialEndsIt) {
  Request r = pending(3);
  ASSERT_EQ(apply_approval(r, socket_user("a", 1), "", std::nullopt).refusal, Refusal::none);
  auto d = apply_denial(r, socket_user("b", 2), "", "not now");
  EXPECT_EQ(d.refusal, Refusal::none);
  EXPECT_EQ(r.state, State::denied);
  EXPECT_EQ(r.decided_by, "b");
  EXPECT_EQ(r.reason, "not now");
  auto late = apply_approval(r, socket_user("c", 3), "", std::nullopt);
  EXPECT_EQ(late.refusal, Refusal::already_decided);
  EXPECT_EQ(late.error, "node-1 is no longer pending: denied by b");
}

TEST(ApprovalRules, TheShortestStandingGrantWins) {
  Request r = pending(2);
  ASSERT_EQ(apply_approval(r, socket_user("a", 1), "", 10min).refusal, Refusal::none);
  ASSERT_EQ(apply_approval(r, socket_user("b", 2), "", 30min).refusal, Refusal::none);
  EXPECT_EQ(r.grant_for, std::chrono::milliseconds(10min));
  Request s = pending(2);
  ASSERT_EQ(apply_approval(s, socket_user("a", 1), "", std::nullopt).refusal, Refusal::none);
  ASSERT_EQ(apply_approval(s, socket_user("b", 2), "", 5min).refusal, Refusal::none);
  EXPECT_EQ(s.grant_for, std::chrono::milliseconds(5min));
}

}  // namespace
}  // namespace pgw::approval
