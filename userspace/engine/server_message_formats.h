// The fixed wording of PostgreSQL's server messages.
//
// A message the server raised while reading masked values may print a value
// derived from them anywhere: quoted (`invalid input syntax for type
// integer: "123-45-6789"`), or bare (`requested character too large for
// encoding: 123456789`, `date field value out of range: 123-45-6789`,
// `transaction ID 123456789 is in the future`). What is provably not derived
// from a value is the text of the format string the server filled in: so
// the message is matched against PostgreSQL's own formats
// (pg_message_formats.inc, generated from the server's message catalog by
// scripts/gen-pg-message-formats) and only the format's literal text is
// kept, every conversion (%s, %d, %u, ...) shown as `***`:
//
//   requested character too large for encoding: ***
//   date field value out of range: ***-***-***
//   invalid input syntax for type ***: "***"
//
// The result is a function of the matched format alone, never of what was
// filled in; which format matched (like the SQLSTATE) says what kind of
// error it was. A message no format matches (another server version's
// wording, a translated lc_messages, an extension's or a PL/pgSQL RAISE's
// own text) has no provably fixed part, and the caller withholds it whole.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgw::engine {

// The message with what the server filled into its format replaced by
// `***`; nothing when no known format matches it. When several match, the
// one with the most literal text wins. Thread-safe; the formats are indexed
// on first use.
std::optional<std::string> fixed_wording(std::string_view message);

}  // namespace pgw::engine
