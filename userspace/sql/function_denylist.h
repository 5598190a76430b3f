// The built-in deny-list: functions that reach outside the SQL a policy can
// see (server files, programs, SQL held in strings, other servers), change
// who the session is, or control the server. A policy denies them unless it
// names them in an allow list (function:NAME).
//
// Matching is on the bare function name, ASCII case-insensitively, whatever
// the schema: pg_catalog.pg_read_file, "pg_read_file", PG_READ_FILE and
// public.pg_read_file all match. A user function that happens to share a
// name is caught too; that is the safe side.
#pragma once

#include <span>
#include <string_view>

#include "sql/statement_facts.h"

namespace pgw::sql {

struct DenylistEntry {
  std::string_view name;
  bool prefix;  // matches every name starting with `name` (lo_*, dblink*)
  FunctionRisk risk;
};

std::span<const DenylistEntry> builtin_function_denylist();

// FunctionRisk::none when the function is not deny-listed.
FunctionRisk builtin_function_risk(std::string_view name);

}  // namespace pgw::sql
