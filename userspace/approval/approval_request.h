// A statement held for people to decide, as the approval queue, the admin
// API, the webhook and the console all see it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace pgw::approval {

// Who sent the statement: the workload as the kernel saw it.
struct Requester {
  std::string identity;            // the identity rule it matched
  std::string cgroup;              // cgroup v2 path ("" when unknown)
  std::optional<uint32_t> uid;     // absent: an explicit TCP client (no kernel identity)
  std::optional<uint32_t> gid;
  std::optional<int32_t> pid;
  std::string comm;
  std::string pod;                 // Kubernetes pod uid, from the cgroup path
  std::string source;              // peer address of an explicit TCP client
};

// What is asked: the statement, why it is held, and what binds a decision
// to it.
struct Ask {
  std::string sql;                  // the text as the client sent it
  // A Bind's parameters as the statement gets them ($1, $2, ...): text
  // values as sent, binary ones as "\\x" hex, NULL as null.
  std::vector<std::optional<std::string>> parameters;
  std::vector<std::string> classes; // statement classes of the text
  std::string rule;                 // "approve: ddl", "tables.approve: hr.*", ...
  std::string message;              // "pgwarden: ddl on public.t requires approval by policy for agent"
  // SHA-256 (hex) of the exact text and parameters: an approval is for this
  // statement and no other.
  std::string statement_hash;
  // The statement's shape (constants left out): what a standing grant
  // (`approve --for`) covers.
  std::string shape;
};

enum class State : uint8_t { pending, approved, denied, timed_out, withdrawn, aborted };
std::string_view to_string(State s);

// One request as the queue keeps it.
struct Request {
  std::string id;          // "<node>-<n>": unique across the nodes of a shared store
  std::string node;        // the host whose engine holds the client
  uint64_t session = 0;
  std::string session_id;  // the session's unique id (its recording's), as `sessions list` shows it
  std::string upstream;
  std::string database;
  Requester requester;
  Ask ask;
  std::chrono::system_clock::time_point created{};
  std::chrono::system_clock::time_point deadline{};
  unsigned min_approvals = 1;
  std::vector<std::string> approved_by;  // distinct approvers so far
  State state = State::pending;
  std::string decided_by;  // who denied it, or the last approver
  std::string reason;      // a denial's reason, a withdrawal's cause
  std::optional<std::chrono::milliseconds> grant_for;  // the standing grant made with the approval
  std::string notify;      // the webhook told of it ("" : none)
};

// How a request ended, as the held client learns it.
struct Outcome {
  State state = State::pending;
  std::string id;
  std::string decided_by;
  std::string reason;
};

// The JSON the admin API, the webhook and the console share.
nlohmann::json to_json(const Request& r, std::chrono::system_clock::time_point now);
// "identity agent, cgroup /agents/a1, uid 1000, comm psql" (the fields known).
std::string describe(const Requester& who);
// The one-line text a chat webhook shows for a new request or an outcome.
std::string describe_for_chat(const Request& r);

}  // namespace pgw::approval
