// Finding recordings in a recording directory and reading one as a
// transcript: what `sessions replay`, `sessions export` and the admin API's
// GET /v1/recordings/{id} share.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/recording_keys.h"
#include "audit/recording_reader.h"
#include "audit/session_transcript.h"
#include "common/result.h"

namespace pgw::audit {

// DIR's recording files (*.pgwrec), sorted by name: by start time.
Result<std::vector<std::string>> recording_files(const std::string& dir);

// A file's start time and session id, from its name
// (<UTC start>-<session id>.pgwrec); std::nullopt for another name.
struct RecordingName {
  std::chrono::system_clock::time_point start;
  std::string session_id;
};
std::optional<RecordingName> parse_recording_name(const std::string& path);

// `name` is a path (it has a '/'), a file name (*.pgwrec: in `dir`, or the
// working directory when `dir` is empty), or a session id whose file is in
// `dir`. Session ids are opaque: matched whole, never by prefix.
Result<std::string> find_recording(const std::string& dir, const std::string& name);

// How far a file verified, as the API and export show it:
// {"records", "ok", "closed", "live", "authenticated", "problem"}.
nlohmann::json verified_json(const VerifyReport& report);

// Reads `path` (checking signatures when `key` is given) and hands its
// transcript's entries to `sink`. The header is in `header` once it
// verified. Only the verified prefix is read; the report says how far.
struct TranscriptRead {
  nlohmann::json header;
  VerifyReport report;
};
Result<TranscriptRead> read_transcript(const std::string& path, const PublicKey* key, const TranscriptOptions& options,
                                       const SessionTranscript::Sink& sink);

}  // namespace pgw::audit
