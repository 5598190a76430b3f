// Parsers for the scalar value kinds of the config file (durations, sizes,
// function names, ...). They know nothing of YAML: each returns the value or
// a message saying what was expected, and the loader prefixes the location.
// Mask functions and detector names belong to pgw_mask
// (mask::parse_mask_spec, mask::parse_detector): one grammar, one place.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/quote.h"

namespace pgw::policy {

// "300s", "250ms", "5m", "1h".
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// "64MiB", "512kB", "1GB", "4096" (bytes). kB/KB/MB/GB are powers of 1000,
// KiB/MiB/GiB powers of 1024.
Result<uint64_t> parse_size(std::string_view text);

// The part after "function:": [schema.]name, unquoted identifiers, returned
// folded to lower case as PostgreSQL folds them.
Result<std::string> parse_function_name(std::string_view text);

// http://host[:port][/path] or https://...; nothing is contacted.
Status check_http_url(std::string_view text);

// The candidate closest to `word` by edit distance, or empty when none is
// close enough to be a plausible typo.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace pgw::policy
