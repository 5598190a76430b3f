// A session transcript (audit/session_transcript.h) as `pgwarden sessions
// replay` prints it: like a psql session with \timing on, each statement
// then what the client saw, results as aligned tables, and pgwarden's own
// decisions and approval events as "--" comment lines.
#pragma once

#include <cstdio>

#include <nlohmann/json.hpp>

#include "audit/recording_reader.h"

namespace pgw::cli {

// Who, where, when: the recording's header.
void print_transcript_header(std::FILE* out, const nlohmann::json& header);
// One entry.
void print_transcript_entry(std::FILE* out, const nlohmann::json& entry);
// How far the file verified: the last line.
void print_transcript_footer(std::FILE* out, const audit::VerifyReport& report);

}  // namespace pgw::cli
