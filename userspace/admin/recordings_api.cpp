#include "admin/recordings_api.h"

#include <charconv>
#include <set>

#include "audit/recording_list.h"
#include "common/instance_name.h"
#include "engine/recording_service.h"

namespace pgw::admin {

namespace {

using audit::RecordingSummary;

constexpr size_t kDefaultLimit = 1000;
constexpr size_t kMaxLimit = 100'000;

std::optional<std::string> query_value(const HttpRequest& req, const char* name) {
  auto it = req.query.find(name);
  if (it == req.query.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

}  // namespace

HttpResponse list_recordings(AdminContext& c, const HttpRequest& req) {
  audit::RecordingFilter filter;
  filter.identity = query_value(req, "identity");
  filter.upstream = query_value(req, "upstream");
  const auto now = std::chrono::system_clock::now();
  for (auto [name, bound] : {std::pair{"since", &filter.since}, std::pair{"until", &filter.until}}) {
    if (auto text = query_value(req, name)) {
      auto t = audit::parse_time_bound(*text, now);
      if (!t) return HttpResponse::error(400, std::string(name) + ": " + t.error());
      *bound = *t;
    }
  }
  size_t limit = kDefaultLimit;
  if (auto text = query_value(req, "limit")) {
    if (std::from_chars(text->data(), text->data() + text->size(), limit).ec != std::errc() || limit == 0) {
      return HttpResponse::error(400, "limit must be a number above 0");
    }
    limit = std::min(limit, kMaxLimit);
  }
  const auto all_it = req.query.find("all");
  const bool all = all_it != req.query.end() && all_it->second != "0" && all_it->second != "false";

  engine::RecordingService* recordings = c.state.recordings();
  const auto files = recordings ? recordings->open_files() : std::map<std::string, std::string>{};
  std::vector<RecordingSummary> list;
  std::set<std::string> live_ids;
  for (const auto& s : c.state.sessions().snapshot()) {
    RecordingSummary r = engine::live_recording_summary(*s);
    if (auto f = files.find(r.id); f != files.end()) r.file = f->second;
    live_ids.insert(r.id);
    if (filter.matches(r)) list.push_back(std::move(r));
  }
  nlohmann::json out = nlohmann::json::object();
  std::string source = recordings && recordings->index() ? "index" : "directory";
  if (all && recordings) {
    std::vector<RecordingSummary> ended;
    bool listed = false;
    if (engine::SessionIndex* index = recordings->index()) {
      auto rows = index->list(filter, limit + live_ids.size());
      if (rows) {
        ended = std::move(rows).value();
        listed = true;
      } else {
        // The index is down: this node's own directory is still an answer.
        out["index_error"] = rows.error();
        source = "directory";
      }
    }
    if (!listed) {
      auto scanned = recordings->directory().list();
      if (!scanned) return HttpResponse::error(500, scanned.error());
      ended = std::move(scanned).value();
    }
    for (auto& r : ended) {
      if (live_ids.count(r.id) != 0) continue;  // this engine's live view is the fresher one
      if (filter.matches(r)) list.push_back(std::move(r));
    }
  }
  audit::sort_newest_first(list);
  if (list.size() > limit) list.resize(limit);
  nlohmann::json items = nlohmann::json::array();
  for (const auto& r : list) items.push_back(audit::to_json(r));
  out["source"] = source;
  out["recordings"] = std::move(items);
  return HttpResponse::json(200, out);
}

}  // namespace pgw::admin
