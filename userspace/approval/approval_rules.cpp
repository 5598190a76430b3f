#include "approval/approval_rules.h"

#include <pwd.h>

#include <algorithm>

namespace pgw::approval {

using Refusal = ApprovalQueue::Decided::Refusal;

std::string unix_user_name(uint32_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  char buf[4096];
  if (getpwuid_r(uid, &pw, buf, sizeof buf, &found) != 0 || found == nullptr) return {};
  return found->pw_name;
}

bool own_request(const Request& r, const Approver& who, const std::string& requester_user) {
  if (!r.requester.uid) return false;
  if (who.uid) return *who.uid == *r.requester.uid;
  return !who.name.empty() && who.name == requester_user;
}

ApprovalQueue::Decided not_pending(const Request& r) {
  ApprovalQueue::Decided d{Refusal::already_decided,
                           r.id + " is no longer pending: " + std::string(to_string(r.state)), r};
  if (!r.decided_by.empty()) d.error += " by " + r.decided_by;
  return d;
}

namespace {

ApprovalQueue::Decided own_request_refusal(const Request& r, const Approver& who) {
  return {Refusal::own_request,
          who.name + " may not decide a request of their own identity (uid " + std::to_string(*r.requester.uid) + ")",
          r};
}

}  // namespace

ApprovalQueue::Decided apply_approval(Request& r, const Approver& who, const std::string& requester_user,
                                      std::optional<std::chrono::milliseconds> grant_for) {
  if (r.state != State::pending) return not_pending(r);
  if (own_request(r, who, requester_user)) return own_request_refusal(r, who);
  if (std::find(r.approved_by.begin(), r.approved_by.end(), who.name) != r.approved_by.end()) {
    return {Refusal::already_approved,
            who.name + " has already approved " + r.id + "; it needs another approver (" +
                std::to_string(r.approved_by.size()) + " of " + std::to_string(r.min_approvals) + ")",
            r};
  }
  r.approved_by.push_back(who.name);
  if (grant_for && (!r.grant_for || *grant_for < *r.grant_for)) r.grant_for = grant_for;
  if (r.approved_by.size() >= r.min_approvals) {
    r.state = State::approved;
    r.decided_by = who.name;
    r.reason.clear();
  }
  return {Refusal::none, {}, r};
}

ApprovalQueue::Decided apply_denial(Request& r, const Approver& who, const std::string& requester_user,
                                    std::string reason) {
  if (r.state != State::pending) return not_pending(r);
  if (own_request(r, who, requester_user)) return own_request_refusal(r, who);
  r.state = State::denied;
  r.decided_by = who.name;
  r.reason = std::move(reason);
  return {Refusal::none, {}, r};
}

}  // namespace pgw::approval
