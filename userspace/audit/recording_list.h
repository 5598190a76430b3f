// What `sessions list --all` and GET /v1/recordings show of a recording
// without replaying it: who, where, when, how many statements were allowed,
// denied and held, and whether the file verifies. Read from a file's header
// and its decision events; a directory's summaries are cached by file name,
// size and modification time, so listing it again reads only what changed.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "audit/recording_keys.h"
#include "audit/recording_time.h"

namespace pgw::audit {

struct StatementCounts {
  uint64_t allowed = 0;
  uint64_t denied = 0;
  uint64_t held = 0;
};

struct RecordingSummary {
  std::string id;    // the header's session_id
  std::string node;  // the host whose pgwarden recorded it
  std::string file;  // the file's name (no directory)
  TimePoint start{};
  std::optional<TimePoint> end;  // none while live
  bool live = false;             // a writer still holds the file
  std::string identity, upstream, database, user;
  StatementCounts statements;
  std::string problem;  // empty: it verified (so far, when live)
};

// The API's object: {"id", "node", "file", "start_time", "end_time",
// "live", "identity", "upstream", "database", "user", "statements":
// {"allowed", "denied", "held"}} (plus "problem" when it did not verify).
nlohmann::json to_json(const RecordingSummary& s);

// The list's filters: a session matches when every one given does; since
// and until keep the sessions that were open at some time between them.
struct RecordingFilter {
  std::optional<std::string> identity;
  std::optional<std::string> upstream;
  std::optional<TimePoint> since;
  std::optional<TimePoint> until;
  bool matches(const RecordingSummary& s) const;
};

// Newest start first (the list's order).
void sort_newest_first(std::vector<RecordingSummary>& list);

// One file. `key` null: the hash chain is checked, not the signatures. A
// live file is read up to its header only (its counts are the daemon's).
RecordingSummary summarize_recording(const std::string& path, const PublicKey* key);

class RecordingDirectory {
 public:
  RecordingDirectory(std::string dir, std::optional<PublicKey> key) : dir_(std::move(dir)), key_(std::move(key)) {}
  // Every *.pgwrec file in the directory; an unreadable directory is an error.
  Result<std::vector<RecordingSummary>> list();

 private:
  struct Cached {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    RecordingSummary summary;
  };
  const std::string dir_;
  const std::optional<PublicKey> key_;
  std::mutex mu_;
  std::map<std::string, Cached> cache_;  // by file name (under mu_)
};

}  // namespace pgw::audit
