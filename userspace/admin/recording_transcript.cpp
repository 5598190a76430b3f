#include "admin/recording_transcript.h"

#include <algorithm>
#include <optional>
#include <string>

#include "audit/recording_files.h"
#include "audit/recording_keys.h"
#include "audit/session_transcript.h"

namespace pgw::admin {

namespace {

// Rows kept per result unless ?max_rows= says otherwise: an answer the
// console can show (the CLI reads whole results).
constexpr uint64_t kDefaultMaxRows = 1000;
constexpr uint64_t kMostMaxRows = 100000;

// A session id or a recording's file name: never a path.
bool plain_name(std::string_view id) {
  if (id.empty() || id.size() > 255 || id.front() == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

}  // namespace

HttpResponse recording_transcript(AdminContext& c, const HttpRequest& req) {
  const std::string id(req.param("id"));
  if (!plain_name(id)) return HttpResponse::error(400, "a recording id is letters, digits, '.', '_' and '-'");
  const auto config = c.state.config();
  const auto& rec = config->recording;
  if (rec.dir.empty()) return HttpResponse::error(404, "sessions are not recorded (recording.dir is not set)");
  audit::TranscriptOptions options;
  options.max_rows = kDefaultMaxRows;
  if (auto it = req.query.find("max_rows"); it != req.query.end()) {
    try {
      options.max_rows = std::min<uint64_t>(std::stoull(it->second), kMostMaxRows);
    } catch (const std::exception&) {
      return HttpResponse::error(400, "max_rows must be a number");
    }
    if (options.max_rows == 0) options.max_rows = kMostMaxRows;
  }
  auto path = audit::find_recording(rec.dir, id);
  if (!path) return HttpResponse::error(404, path.error());
  // The daemon's own key signs its recordings: its public half checks them.
  std::optional<audit::PublicKey> key;
  if (auto signing = audit::SigningKey::load(rec.signing_key_file)) key = signing->public_key();
  nlohmann::json entries = nlohmann::json::array();
  auto read = audit::read_transcript(*path, key ? &*key : nullptr, options,
                                     [&entries](nlohmann::json e) { entries.push_back(std::move(e)); });
  if (!read) return HttpResponse::error(404, read.error());
  nlohmann::json body = {{"session", read->header.is_object() ? read->header : nlohmann::json::object()},
                         {"verified", audit::verified_json(read->report)},
                         {"entries", std::move(entries)}};
  HttpResponse r;
  r.status = 200;
  r.content_type = "application/json";
  // Recorded values may hold any bytes: invalid UTF-8 is replaced, not refused.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

}  // namespace pgw::admin
