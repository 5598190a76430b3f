// Who is deciding a held statement, and whether they may: from the admin
// socket's peer credentials (the kernel's, not a claim) or from the web
// console user a token belongs to, checked against `approval.approvers`.
//
// root on the admin socket may always decide (it could rewrite the config
// anyway). Whether a decider is the requester is the queue's rule
// (approval_queue.h), not this one.
#pragma once

#include <sys/types.h>

#include <string>

#include "approval/approval_queue.h"
#include "common/result.h"
#include "policy/config.h"

namespace pgw::admin {

Result<approval::Approver> approver_on_socket(const policy::ApproverRules& rules, uid_t uid, gid_t gid);
Result<approval::Approver> approver_on_console(const policy::ApproverRules& rules, const std::string& user);

// The unix user name of a uid ("uid 1234" when it has none).
std::string unix_user_name(uid_t uid);

}  // namespace pgw::admin
