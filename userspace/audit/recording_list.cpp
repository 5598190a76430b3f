#include "audit/recording_list.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "audit/recording_reader.h"

namespace pgw::audit {

namespace {

std::string text_field(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

TimePoint from_ns(int64_t ns) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::nanoseconds(ns)));
}

// A decision event counts as the engine counts it (policy_filter.cpp): an
// allowed Parse is not a statement of its own.
void count_decision(const nlohmann::json& e, StatementCounts& c) {
  const std::string decision = text_field(e, "decision");
  if (decision == "allow") {
    if (text_field(e, "message_type") != "parse") ++c.allowed;
  } else if (decision == "deny") {
    ++c.denied;
  } else if (decision == "approve") {
    ++c.held;
  }
}

}  // namespace

nlohmann::json to_json(const RecordingSummary& s) {
  nlohmann::json j = {{"id", s.id},
                      {"node", s.node},
                      {"file", s.file.empty() ? nlohmann::json(nullptr) : nlohmann::json(s.file)},
                      {"start_time", format_utc(s.start)},
                      {"end_time", s.end ? nlohmann::json(format_utc(*s.end)) : nlohmann::json(nullptr)},
                      {"live", s.live},
                      {"identity", s.identity},
                      {"upstream", s.upstream},
                      {"database", s.database},
                      {"user", s.user},
                      {"statements",
                       {{"allowed", s.statements.allowed}, {"denied", s.statements.denied}, {"held", s.statements.held}}}};
  if (!s.problem.empty()) j["problem"] = s.problem;
  return j;
}

bool RecordingFilter::matches(const RecordingSummary& s) const {
  if (identity && s.identity != *identity) return false;
  if (upstream && s.upstream != *upstream) return false;
  if (until && s.start > *until) return false;
  if (since && !s.live && s.end && *s.end < *since) return false;
  return true;
}

void sort_newest_first(std::vector<RecordingSummary>& list) {
  std::stable_sort(list.begin(), list.end(), [](const RecordingSummary& a, const RecordingSummary& b) {
    return a.start != b.start ? a.start > b.start : a.id > b.id;
  });
}

RecordingSummary summarize_recording(const std::string& path, const PublicKey* key) {
  RecordingSummary s;
  s.file = std::filesystem::path(path).filename().string();
  struct stat st {};
  const bool have_stat = ::stat(path.c_str(), &st) == 0;
  auto reader = RecordingReader::open(path, key);
  if (!reader) {
    s.problem = reader.error();
    return s;
  }
  RecordingReader& r = **reader;
  Record rec;
  bool header = false;
  while (r.next(rec)) {
    if (rec.type == RecordType::header) {
      header = true;
      const nlohmann::json& h = r.header();
      s.id = text_field(h, "session_id");
      s.node = text_field(h, "node");
      s.upstream = text_field(h, "upstream");
      s.database = text_field(h, "database");
      s.user = text_field(h, "user");
      if (auto it = h.find("identity"); it != h.end() && it->is_object()) s.identity = text_field(*it, "name");
      if (auto t = parse_rfc3339(text_field(h, "start_time"))) s.start = *t;
      if (r.report().in_use) break;  // live: the daemon knows the rest
      continue;
    }
    if (rec.type != RecordType::event) continue;
    // Only decisions and the end matter here: skip the rest unparsed.
    const std::string_view p = rec.payload;
    const bool decision = p.find("\"decision\"") != std::string_view::npos;
    const bool end = p.find("\"session_end\"") != std::string_view::npos;
    if (!decision && !end) continue;
    auto e = nlohmann::json::parse(p, nullptr, false);
    if (!e.is_object()) continue;
    const std::string kind = text_field(e, "event");
    if (kind == "decision") count_decision(e, s.statements);
    if (kind == "session_end") {
      if (auto t = parse_rfc3339(text_field(e, "end_time"))) s.end = *t;
    }
  }
  const VerifyReport& report = r.report();
  s.live = report.in_use;
  if (!header && s.problem.empty()) s.problem = report.problem.empty() ? "no header" : report.problem;
  if (!s.live && !report.ok && s.problem.empty()) s.problem = report.problem;
  // A session that ended without its end event (a crash): the file's last
  // write is the best end there is.
  if (!s.live && !s.end && have_stat) s.end = from_ns(mtime_ns(st));
  if (!header && have_stat) s.start = from_ns(mtime_ns(st));
  if (s.id.empty()) s.id = s.file;
  return s;
}

Result<std::vector<RecordingSummary>> RecordingDirectory::list() {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) return make_error("cannot read " + dir_ + ": " + ec.message());
  std::vector<RecordingSummary> out;
  std::set<std::string> seen;
  std::lock_guard lock(mu_);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.size() <= kFileSuffix.size() || !name.ends_with(kFileSuffix)) continue;
    struct stat st {};
    // Regular files only: a symlink planted in the directory is not followed.
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    seen.insert(name);
    auto c = cache_.find(name);
    const auto size = static_cast<uint64_t>(st.st_size);
    // A live file changes every flush: its summary (the header) does not,
    // so it is kept until the file is closed (the close changes its lock,
    // not its size: it is read again while it stays live).
    if (c != cache_.end() && c->second.size == size && c->second.mtime_ns == mtime_ns(st) && !c->second.summary.live) {
      out.push_back(c->second.summary);
      continue;
    }
    RecordingSummary s = summarize_recording(it->path().string(), key_ ? &*key_ : nullptr);
    cache_[name] = Cached{size, mtime_ns(st), s};
    out.push_back(std::move(s));
  }
  std::erase_if(cache_, [&](const auto& e) { return seen.count(e.first) == 0; });
  sort_newest_first(out);
  return out;
}

}  // namespace pgw::audit
