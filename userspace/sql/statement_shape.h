// A statement's shape: its text with constants and formatting left out, as
// libpg_query's fingerprint reads it. `SELECT 1` and `select  2` share one
// shape; `DROP TABLE a` and `DROP TABLE b` do not (names are not constants).
// A standing approval (`pgwarden approvals approve ID --for 10m`) covers
// one shape from one identity.
#pragma once

#include <string>
#include <string_view>

namespace pgw::sql {

// The fingerprint as 16 hex digits; for a text the parser cannot read, a
// digest of the exact text (so it only ever matches itself).
std::string statement_shape(std::string_view text);

}  // namespace pgw::sql
