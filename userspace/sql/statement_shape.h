// A statement's shape: its text with constants and formatting left out, as
// libpg_query's fingerprint reads it, and as its normalized text (constants
// as $n) deparsed reads it: the fingerprint alone does not tell DO blocks,
// function bodies, CREATE ROLE ... SUPERUSER from NOSUPERUSER or EXECUTE
// names apart. `SELECT 1` and `select  2` share one shape; `DROP TABLE a`
// and `DROP TABLE b` do not (names are not constants).
// A standing approval (`pgwarden approvals approve ID --for 10m`) covers
// one shape from one identity.
#pragma once

#include <string>
#include <string_view>

namespace pgw::sql {

// The fingerprint and a digest of the canonical text; for a text the
// parser cannot read or write back (a body that normalizes to $1, a comment
// only), a digest of the exact text (so it only ever matches itself).
std::string statement_shape(std::string_view text);

}  // namespace pgw::sql
