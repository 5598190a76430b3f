#include "audit/recording_files.h"

#include <algorithm>
#include <filesystem>

#include "audit/recording_format.h"
#include "audit/recording_time.h"

namespace pgw::audit {

namespace fs = std::filesystem;

Result<std::vector<std::string>> recording_files(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > kFileSuffix.size() && name.ends_with(kFileSuffix)) files.push_back(entry.path().string());
  }
  if (ec) return make_error("cannot list " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  return files;
}

std::optional<RecordingName> parse_recording_name(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  if (!name.ends_with(kFileSuffix)) return std::nullopt;
  const size_t dash = name.find('-');  // the compact start time has none
  if (dash == std::string::npos) return std::nullopt;
  auto start = parse_utc_compact(std::string_view(name).substr(0, dash));
  if (!start) return std::nullopt;
  std::string id = name.substr(dash + 1, name.size() - dash - 1 - kFileSuffix.size());
  if (id.empty()) return std::nullopt;
  return RecordingName{*start, std::move(id)};
}

Result<std::string> find_recording(const std::string& dir, const std::string& name) {
  if (name.find('/') != std::string::npos) return name;  // a path
  if (name.ends_with(kFileSuffix)) return dir.empty() ? name : (fs::path(dir) / name).string();  // a file name
  if (dir.empty()) return make_error("no recording directory to look for session " + name + " in (give --dir)");
  auto files = recording_files(dir);
  if (!files) return make_error(files.error());
  std::string found;
  for (const auto& f : *files) {
    auto parsed = parse_recording_name(f);
    if (parsed && parsed->session_id == name) found = f;  // the newest, should an id repeat
  }
  if (found.empty()) return make_error("no recording of session " + name + " in " + dir);
  return found;
}

nlohmann::json verified_json(const VerifyReport& r) {
  nlohmann::json j = {{"records", r.records},   {"ok", r.ok},
                      {"closed", r.closed},     {"live", !r.closed && r.in_use && r.truncated},
                      {"authenticated", r.authenticated}, {"problem", r.problem}};
  if (r.first_bad_record) j["first_bad_record"] = r.first_bad_record->index;
  return j;
}

Result<TranscriptRead> read_transcript(const std::string& path, const PublicKey* key, const TranscriptOptions& options,
                                       const SessionTranscript::Sink& sink) {
  auto reader = RecordingReader::open(path, key);
  if (!reader) return make_error(reader.error());
  SessionTranscript transcript(options, sink);
  Record record;
  while ((*reader)->next(record)) transcript.add(record);
  transcript.flush();
  return TranscriptRead{(*reader)->header(), (*reader)->report()};
}

}  // namespace pgw::audit
