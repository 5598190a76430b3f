// The rules of a decision, in one place for both ways a request is kept:
// the local queue (under its mutex) and the shared store (inside a
// transaction that holds the row's lock). Pure functions over a Request.
//
//   - a request needs `min_approvals` distinct approvers; one denial ends it;
//   - nobody decides a request of their own uid (nor a console user named
//     like the requester's unix user);
//   - `approve --for D` keeps the shortest standing grant asked for.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "approval/approval_queue.h"

namespace pgw::approval {

// The unix user name of a uid on this host ("" when unknown), for the
// self-approval rule of console users.
std::string unix_user_name(uint32_t uid);

// Whether `who` is the requester. `requester_user` is the unix user name of
// the requester's uid ("" when unknown), for approvers without a uid.
bool own_request(const Request& r, const Approver& who, const std::string& requester_user);

// The refusal for a request that is no longer pending (r.state says how it
// ended).
ApprovalQueue::Decided not_pending(const Request& r);

// Adds `who`'s approval to the pending request `r`. When it is the last one
// needed, r ends approved (state, decided_by). On a refusal r is unchanged.
ApprovalQueue::Decided apply_approval(Request& r, const Approver& who, const std::string& requester_user,
                                      std::optional<std::chrono::milliseconds> grant_for);
// Ends the pending request `r` denied by `who`, unless it is their own.
ApprovalQueue::Decided apply_denial(Request& r, const Approver& who, const std::string& requester_user,
                                    std::string reason);

}  // namespace pgw::approval
