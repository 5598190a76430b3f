#include "approval/approval_request.h"

#include "common/quote.h"

namespace pgw::approval {

std::string_view to_string(State s) {
  switch (s) {
    case State::pending: return "pending";
    case State::approved: return "approved";
    case State::denied: return "denied";
    case State::timed_out: return "timed_out";
    case State::withdrawn: return "withdrawn";
    case State::aborted: return "aborted";
  }
  return "?";
}

namespace {

double unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

nlohmann::json parameters_json(const std::vector<std::optional<std::string>>& params) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : params) out.push_back(p ? nlohmann::json(*p) : nlohmann::json(nullptr));
  return out;
}

}  // namespace

nlohmann::json to_json(const Request& r, std::chrono::system_clock::time_point now) {
  nlohmann::json identity = {{"name", r.requester.identity}, {"cgroup", r.requester.cgroup},
                             {"comm", r.requester.comm},     {"pod", r.requester.pod},
                             {"source", r.requester.source}};
  identity["uid"] = r.requester.uid ? nlohmann::json(*r.requester.uid) : nlohmann::json(nullptr);
  identity["gid"] = r.requester.gid ? nlohmann::json(*r.requester.gid) : nlohmann::json(nullptr);
  identity["pid"] = r.requester.pid ? nlohmann::json(*r.requester.pid) : nlohmann::json(nullptr);
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - r.created).count();
  const auto left = std::chrono::duration_cast<std::chrono::seconds>(r.deadline - now).count();
  nlohmann::json j = {{"id", r.id},
                      {"state", std::string(to_string(r.state))},
                      {"node", r.node},
                      {"session", r.session},
                      {"session_id", r.session_id},
                      {"upstream", r.upstream},
                      {"database", r.database},
                      {"identity", std::move(identity)},
                      {"sql", r.ask.sql},
                      {"parameters", parameters_json(r.ask.parameters)},
                      {"classes", r.ask.classes},
                      {"rule", r.ask.rule},
                      {"statement_hash", r.ask.statement_hash},
                      {"created", unix_seconds(r.created)},
                      {"age_s", age < 0 ? 0 : age},
                      {"expires_in_s", r.state == State::pending ? (left < 0 ? 0 : left) : 0},
                      {"approvals", r.approved_by},
                      {"min_approvals", r.min_approvals}};
  if (r.state != State::pending) {
    j["decided_by"] = r.decided_by;
    j["reason"] = r.reason;
  }
  return j;
}

std::string describe(const Requester& who) {
  std::string out = "identity " + who.identity;
  if (!who.cgroup.empty()) out += ", cgroup " + who.cgroup;
  if (who.uid) out += ", uid " + std::to_string(*who.uid);
  if (who.pid) out += ", pid " + std::to_string(*who.pid);
  if (!who.comm.empty()) out += ", comm " + who.comm;
  if (!who.pod.empty()) out += ", pod " + who.pod;
  if (!who.source.empty()) out += ", source " + who.source;
  return out;
}

std::string describe_for_chat(const Request& r) {
  const std::string who = r.requester.identity + (r.requester.comm.empty() ? "" : " (" + r.requester.comm + ")");
  std::string sql = r.ask.sql.size() > 300 ? r.ask.sql.substr(0, 300) + "…" : r.ask.sql;
  if (!r.ask.parameters.empty()) sql += " (with " + std::to_string(r.ask.parameters.size()) + " parameters)";
  switch (r.state) {
    case State::pending:
      return "pgwarden " + r.id + ": " + who + " wants to run on " + r.upstream + ": " + sql + " — " + r.ask.rule +
             ". Decide with `pgwarden approvals approve " + r.id + "` or `deny " + r.id + " --reason …`.";
    case State::approved:
      return "pgwarden " + r.id + ": approved by " + r.decided_by + "; the statement of " + who + " runs.";
    case State::denied:
      return "pgwarden " + r.id + ": denied by " + r.decided_by + " (" + r.reason + ").";
    case State::timed_out: return "pgwarden " + r.id + ": nobody decided in time; the statement was refused.";
    case State::withdrawn: return "pgwarden " + r.id + ": withdrawn (" + r.reason + ").";
    case State::aborted: return "pgwarden " + r.id + ": not decided (" + r.reason + "); nothing ran.";
  }
  return r.id;
}

}  // namespace pgw::approval
