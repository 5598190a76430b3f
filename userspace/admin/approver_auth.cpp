#include "admin/approver_auth.h"

#include <grp.h>
#include <pwd.h>

#include <algorithm>
#include <vector>

namespace pgw::admin {

namespace {

bool listed(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Every group the user is in (primary and supplementary), by name.
std::vector<std::string> group_names(uid_t uid, gid_t primary) {
  std::vector<std::string> out;
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return out;
  int count = 64;
  std::vector<gid_t> gids(static_cast<size_t>(count));
  if (getgrouplist(found->pw_name, found->pw_gid, gids.data(), &count) < 0) {
    gids.resize(static_cast<size_t>(count));
    if (getgrouplist(found->pw_name, found->pw_gid, gids.data(), &count) < 0) return out;
  }
  gids.resize(static_cast<size_t>(count));
  gids.push_back(primary);
  for (gid_t g : gids) {
    group gr{};
    group* got = nullptr;
    std::vector<char> gbuf(16384);
    if (getgrgid_r(g, &gr, gbuf.data(), gbuf.size(), &got) == 0 && got != nullptr) out.emplace_back(got->gr_name);
  }
  return out;
}

}  // namespace

std::string unix_user_name(uid_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return "uid " + std::to_string(uid);
  }
  return found->pw_name;
}

Result<approval::Approver> approver_on_socket(const policy::ApproverRules& rules, uid_t uid, gid_t gid) {
  approval::Approver who{unix_user_name(uid), static_cast<uint32_t>(uid), "admin socket"};
  if (uid == 0 || listed(rules.unix_users, who.name)) return who;
  for (const auto& g : group_names(uid, gid)) {
    if (listed(rules.unix_groups, g)) return who;
  }
  return make_error(who.name + " (uid " + std::to_string(uid) +
                    ") may not decide approvals: not in approval.approvers.unix_users or unix_groups");
}

Result<approval::Approver> approver_on_console(const policy::ApproverRules& rules, const std::string& user) {
  if (listed(rules.console_users, user)) return approval::Approver{user, std::nullopt, "console"};
  return make_error("console user " + user + " may not decide approvals: not in approval.approvers.console_users");
}

}  // namespace pgw::admin
