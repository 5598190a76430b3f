// `pgwarden sessions verify`: checks session recordings offline (no daemon):
// each file's hash chain and its block signatures with the recording public
// key, naming the first bad record of a file that was edited, cut or signed
// by another key. One line per file; exit 0 all good, 1 any bad, 2 bad usage.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/recording_files.h"
#include "audit/recording_reader.h"
#include "cli/command_line.h"
#include "cli/commands.h"
#include "cli/output_flags.h"

namespace pgw::cli {

namespace {

constexpr const char* kCommand = "pgwarden sessions verify";

struct VerifyOptions {
  std::vector<std::string> names;  // files or session ids
  std::string dir;
  std::string public_key;
  OutputFlags output;
};

int usage(const std::string& message) {
  std::fprintf(stderr, "%s: %s (try %s --help)\n", kCommand, message.c_str(), kCommand);
  return kExitUsage;
}

// A key or directory that is not there or not right: bad config, exit 2.
int bad_config(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kCommand, message.c_str());
  return kExitUsage;
}

// What one file, or one name that found no file, came to.
struct Outcome {
  std::string file;
  audit::VerifyReport report;
  bool open = false;  // being written right now: its signed part verified
};

nlohmann::json to_json(const Outcome& o) {
  const auto& r = o.report;
  nlohmann::json j = {{"file", o.file},
                      {"status", r.ok ? "ok" : o.open ? "open" : "bad"},
                      {"records", r.records},
                      {"closed", r.closed},
                      {"unsigned_records", r.unsigned_records}};
  if (!r.session_id.empty()) j["session_id"] = r.session_id;
  if (r.last_good_record) j["last_good_record"] = *r.last_good_record;
  if (r.first_bad_record) {
    j["first_bad_record"] = {{"index", r.first_bad_record->index}, {"offset", r.first_bad_record->offset}};
  }
  if (!r.problem.empty()) j["problem"] = r.problem;
  return j;
}

int sessions_verify(const VerifyOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!o.dir.empty() && !fs::is_directory(o.dir, ec)) return bad_config("--dir " + o.dir + " is not a directory");
  if (o.names.empty() && o.dir.empty()) return usage("name recordings (files or session ids) or give --dir DIR");
  auto key = audit::PublicKey::load(o.public_key);
  if (!key) return bad_config(key.error());

  // The files: those named, a session id's in --dir, or all of --dir's.
  std::vector<std::string> files;
  std::vector<Outcome> outcomes;
  if (o.names.empty()) {
    auto all = audit::recording_files(o.dir);
    if (!all) return bad_config(all.error());
    files = std::move(all).value();
  }
  for (const std::string& name : o.names) {
    const bool looks_like_file = name.find('/') != std::string::npos || name.ends_with(audit::kFileSuffix);
    if (looks_like_file || fs::exists(name, ec) || o.dir.empty()) {
      files.push_back(name);
      continue;
    }
    auto found = audit::find_recording(o.dir, name);
    if (!found) {
      Outcome missing;
      missing.file = name;
      missing.report.problem = found.error();
      outcomes.push_back(std::move(missing));
      continue;
    }
    files.push_back(std::move(found).value());
  }

  for (const std::string& file : files) {
    Outcome out;
    out.file = file;
    out.report = audit::verify_recording(file, *key);
    out.open = !out.report.ok && out.report.in_use && out.report.truncated;
    outcomes.push_back(std::move(out));
  }

  bool all_good = true;
  nlohmann::json list = nlohmann::json::array();
  for (const Outcome& out : outcomes) {
    const auto& r = out.report;
    if (!r.ok && !out.open) all_good = false;
    if (o.output.wants_json()) {
      list.push_back(to_json(out));
    } else if (r.ok) {
      std::printf("ok  %llu records  %s\n", static_cast<unsigned long long>(r.records), out.file.c_str());
    } else if (out.open) {
      std::printf("open  %llu records  %s: %s\n", static_cast<unsigned long long>(r.records), out.file.c_str(),
                  r.problem.c_str());
    } else {
      std::printf("BAD  %s: %s\n", out.file.c_str(), r.problem.c_str());
    }
  }
  if (o.output.wants_json()) {
    std::printf("%s\n", o.output.pretty ? list.dump(2).c_str() : list.dump().c_str());
  } else if (outcomes.empty()) {
    std::printf("no recordings in %s\n", o.dir.c_str());
  }
  std::fflush(stdout);
  return all_good ? 0 : 1;
}

}  // namespace

void add_sessions_verify_command(CLI::App& sessions, Action& chosen) {
  auto o = std::make_shared<VerifyOptions>();
  CLI::App* verify = sessions.add_subcommand(
      "verify", "check session recordings offline: hash chain, signatures, truncation");
  verify->add_option("FILES", o->names, "recording files, or session ids to find in --dir\n(default: every "
                                        "*.pgwrec in --dir)")
      ->type_name("ID|FILE");
  verify->add_option("--dir", o->dir, "the recordings directory")->type_name("DIR");
  verify->add_option("--public-key", o->public_key, "the recording public key (PEM: openssl pkey -pubout)")
      ->required()
      ->type_name("FILE");
  add_output_flags(*verify, o->output);
  verify->footer(
      "Prints one line per file: \"ok  N records  FILE\", \"BAD  FILE: problem\" (the first bad record),\n"
      "or \"open  N records  FILE: ...\" for a recording still being written (its signed part verified).\n"
      "Exit status: 0 every file verified, 1 one did not, 2 bad usage.");
  verify->callback([&chosen, o] { chosen = [o] { return sessions_verify(*o); }; });
}

}  // namespace pgw::cli
