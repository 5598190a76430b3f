// `pgwarden sessions replay ID|FILE [--follow]` and `pgwarden sessions export
// ID|--since T`: a recording's transcript (audit/session_transcript.h), as a
// psql-like text or as JSON lines. Only the verified prefix of a file is
// shown; the hash chain is always checked, signatures with --public-key.
// Without --dir the daemon says where its recordings are (/v1/status).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/recording_files.h"
#include "audit/recording_reader.h"
#include "audit/recording_time.h"
#include "audit/session_transcript.h"
#include "cli/admin_client.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/transcript_text.h"

namespace pgw::cli {

namespace {

using Clock = std::chrono::system_clock;

struct RecordingOptions {
  std::string dir;
  std::string public_key;
  AdminOptions admin;  // to ask the daemon for its recording directory
};

struct ReplayOptions {
  std::string name;
  bool follow = false;
  uint64_t max_rows = 0;
  RecordingOptions recordings;
};

struct ExportOptions {
  std::string name;
  std::string since;
  std::string until;
  RecordingOptions recordings;
};

int fail(const char* command, const std::string& message, int code) {
  std::fprintf(stderr, "pgwarden sessions %s: %s\n", command, message.c_str());
  return code;
}

// --dir, else the daemon's recording.dir.
Result<std::string> recording_dir(const RecordingOptions& o) {
  if (!o.dir.empty()) return o.dir;
  nlohmann::json status;
  if (admin_call(o.admin, "GET", "/v1/status", nullptr, status) != 0) {
    return make_error("cannot ask the daemon where recordings are: give --dir");
  }
  const auto rec = status.value("recording", nlohmann::json::object());
  if (!rec.value("enabled", false) || !rec.contains("dir") || !rec["dir"].is_string()) {
    return make_error("the daemon does not record sessions (recording.dir is not set): give --dir");
  }
  return rec["dir"].get<std::string>();
}

// Where to look for `name`: none needed for a file named by path (unless
// --dir says where), else --dir or the daemon's recording directory.
Result<std::string> directory_for(const RecordingOptions& o, const std::string& name) {
  const bool is_path = name.find('/') != std::string::npos || name.ends_with(audit::kFileSuffix);
  if (is_path && o.dir.empty()) return std::string();
  return recording_dir(o);
}

Result<std::optional<audit::PublicKey>> public_key(const RecordingOptions& o) {
  if (o.public_key.empty()) return std::optional<audit::PublicKey>();
  auto key = audit::PublicKey::load(o.public_key);
  if (!key) return make_error(key.error());
  return std::optional<audit::PublicKey>(std::move(*key));
}

bool good(const audit::VerifyReport& r) { return r.ok || (r.in_use && r.truncated); }

int replay(const ReplayOptions& o) {
  const char* kName = "replay";
  auto key = public_key(o.recordings);
  if (!key) return fail(kName, key.error(), kExitUsage);
  auto found_dir = directory_for(o.recordings, o.name);
  if (!found_dir) return fail(kName, found_dir.error(), kExitUsage);
  const std::string dir = *found_dir;
  auto path = audit::find_recording(dir, o.name);
  if (!path) return fail(kName, path.error(), 1);
  auto reader = audit::RecordingReader::open(*path, *key ? &**key : nullptr);
  if (!reader) return fail(kName, reader.error(), 1);
  audit::RecordingReader& r = **reader;

  const bool json = o.recordings.admin.output.wants_json();
  nlohmann::json entries = nlohmann::json::array();
  audit::TranscriptOptions options;
  options.max_rows = o.max_rows;
  options.with_session = false;  // the header is printed once
  // The header once it verified (open() read the first block), before
  // any entry.
  bool header_shown = false;
  auto show_header = [&] {
    if (header_shown || json || r.header().is_null()) return;
    print_transcript_header(stdout, r.header());
    header_shown = true;
  };
  audit::SessionTranscript transcript(options, [&](nlohmann::json e) {
    if (json) {
      entries.push_back(std::move(e));
    } else {
      show_header();
      print_transcript_entry(stdout, e);
    }
  });
  show_header();
  int idle = 0;
  audit::Record record;
  for (;;) {
    while (r.next(record)) {
      transcript.add(record);
      idle = 0;
    }
    show_header();
    std::fflush(stdout);
    const auto& report = r.report();
    if (!o.follow || report.closed || !report.truncated) break;
    if (r.resume()) continue;
    if (!r.report().in_use) break;  // the writer is gone and wrote nothing more
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // A statement that waits (for its rows, for an approval) is shown
    // after a second without news, before its answer.
    if (++idle == 5) transcript.flush();
  }
  transcript.flush();
  if (json) {
    nlohmann::json out = {{"session", r.header()}, {"verified", audit::verified_json(r.report())}, {"entries", entries}};
    std::printf("%s\n", out.dump(o.recordings.admin.output.pretty ? 2 : -1, ' ', false,
                                 nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else {
    show_header();
    print_transcript_footer(stdout, r.report());
  }
  std::fflush(stdout);
  return good(r.report()) ? 0 : 1;
}

int export_lines(const ExportOptions& o) {
  const char* kName = "export";
  if (o.name.empty() == o.since.empty()) return fail(kName, "name one session (ID|FILE) or give --since", kExitUsage);
  if (!o.until.empty() && o.since.empty()) return fail(kName, "--until goes with --since", kExitUsage);
  auto key = public_key(o.recordings);
  if (!key) return fail(kName, key.error(), kExitUsage);
  std::optional<Clock::time_point> since, until;
  const auto now = Clock::now();
  for (auto [flag, text, out] : {std::tuple{"--since ", &o.since, &since}, std::tuple{"--until ", &o.until, &until}}) {
    if (text->empty()) continue;
    auto t = audit::parse_time_bound(*text, now);
    if (!t) return fail(kName, flag + *text + ": " + t.error(), kExitUsage);
    *out = *t;
  }
  auto found_dir = directory_for(o.recordings, o.name);
  if (!found_dir) return fail(kName, found_dir.error(), kExitUsage);
  const std::string dir = *found_dir;
  std::vector<std::string> files;
  if (!o.name.empty()) {
    auto path = audit::find_recording(dir, o.name);
    if (!path) return fail(kName, path.error(), 1);
    files.push_back(*path);
  } else {
    auto all = audit::recording_files(dir);
    if (!all) return fail(kName, all.error(), 1);
    for (const auto& f : *all) {
      auto parsed = audit::parse_recording_name(f);
      if (!parsed || parsed->start < *since || (until && parsed->start >= *until)) continue;
      files.push_back(f);
    }
  }
  int rc = 0;
  for (const auto& file : files) {
    auto read = audit::read_transcript(file, *key ? &**key : nullptr, {}, [](nlohmann::json e) {
      std::printf("%s\n", audit::entry_text(e).c_str());
    });
    if (!read) {
      std::fprintf(stderr, "pgwarden sessions export: %s\n", read.error().c_str());
      rc = 1;
      continue;
    }
    // How far the file verified, so that a shipper sees a truncated or
    // damaged recording for what it is.
    nlohmann::json last = {{"type", "verification"}, {"file", file}, {"verified", audit::verified_json(read->report)}};
    if (read->header.is_object()) last["session"] = read->header.value("session_id", nlohmann::json());
    std::printf("%s\n", audit::entry_text(last).c_str());
    if (!good(read->report)) rc = 1;
  }
  std::fflush(stdout);
  return rc;
}

void add_recording_options(CLI::App& command, RecordingOptions& o) {
  command.add_option("--dir", o.dir, "the recordings directory (default: ask the daemon)")->type_name("DIR");
  command
      .add_option("--public-key", o.public_key,
                  "also check the signatures with this public key (PEM: openssl pkey -pubout)")
      ->type_name("FILE");
  add_admin_options(command, o.admin);
}

}  // namespace

void add_sessions_replay_commands(CLI::App& sessions, Action& chosen) {
  auto r = std::make_shared<ReplayOptions>();
  CLI::App* replay_cmd = sessions.add_subcommand(
      "replay", "a recorded session as psql showed it: statements, result tables, errors, approvals, times");
  replay_cmd->add_option("SESSION", r->name, "a session id (its file in --dir), or a recording file")
      ->required()
      ->type_name("ID|FILE");
  replay_cmd->add_flag("-f,--follow", r->follow, "keep showing a live session until it ends");
  replay_cmd->add_option("--max-rows", r->max_rows, "rows shown per result (default: all)")->type_name("N");
  add_recording_options(*replay_cmd, r->recordings);
  replay_cmd->footer(
      "Shows only what verified (the hash chain; the signatures too with --public-key) and ends\n"
      "with how far the file verified: closed, still being written, truncated or damaged.\n"
      "-j prints {\"session\", \"verified\", \"entries\"} as GET /v1/recordings/{id} does.\n"
      "Exit status: 0 verified (or live), 1 truncated, damaged or not found, 2 bad usage.");
  replay_cmd->callback([&chosen, r] { chosen = [r] { return replay(*r); }; });

  auto e = std::make_shared<ExportOptions>();
  CLI::App* export_cmd = sessions.add_subcommand(
      "export", "recorded sessions as JSON lines, one per statement, result and event, for log shippers");
  export_cmd->add_option("SESSION", e->name, "a session id (its file in --dir), or a recording file")
      ->type_name("ID|FILE");
  export_cmd->add_option("--since", e->since, "every session started at or after T (RFC 3339, or ago: 1h, 2d)")
      ->type_name("T");
  export_cmd->add_option("--until", e->until, "with --since: ... and before T")->type_name("T");
  add_recording_options(*export_cmd, e->recordings);
  export_cmd->footer(
      "Each line is a JSON object with session, identity, upstream, database, user, type, time and\n"
      "offset_ms; each session ends with a {\"type\": \"verification\"} line.\n"
      "Exit status: 0 every file verified (or live), 1 one did not, 2 bad usage.");
  export_cmd->callback([&chosen, e] { chosen = [e] { return export_lines(*e); }; });
}

}  // namespace pgw::cli
