// What the protocol tracker keeps about texts, prepared statements and
// portals, and the notes the relay's filters write on them.
//
// The tracker owns the entries and their lifetime (a name binds when the
// server confirms it and is gone when the server drops it); each filter owns
// its notes and nothing else: the policy filter what it decided a statement
// under, the mask filter what it checked it with and a portal's row plan.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mask/row_plan.h"
#include "sql/parsed_sql.h"
#include "sql/statement_facts.h"

namespace pgw::relay {

// A SQL text the client sent: a Query string or a Parse's query.
struct SqlText {
  std::string sql;
  // How the session may have read backslashes when it was sent.
  bool standard_conforming_strings = true;
  // Per statement, its facts where a statement defines, drops or reads a
  // session name or changes settings (the policy's analysis; null: none
  // does). The tracker follows DECLARE / CLOSE / PREPARE / DEALLOCATE by them.
  std::shared_ptr<const std::vector<sql::StatementFacts>> effects;
  // The text was forwarded without being parsed (`unparseable: forward`):
  // what it did to names cannot be known.
  bool effects_unknown = false;

  // One parse shared by the filters that need the tree while the message is
  // being decided (the policy's facts, masking's lineage); the relay drops
  // it once they are done, so kept statements hold only their text.
  mutable std::optional<sql::ParsedSql> parse;
  const sql::ParsedSql& parsed(const sql::ParseOptions& options) const {
    if (!parse || parse->standard_conforming_strings() != options.standard_conforming_strings) {
      parse = sql::ParsedSql::parse(sql, options);
    }
    return *parse;
  }
};

// One statement of a text.
struct TextRef {
  std::shared_ptr<const SqlText> text;
  size_t index = 0;
  explicit operator bool() const { return text != nullptr; }
};

// The policy in force when the policy filter last decided an entry; a
// different one means: decide again before it runs.
struct DecidedUnder {
  uint64_t config_generation = 0;
  uint64_t catalog_version = 0;
  std::string meaning_key;  // SessionSqlState::meaning_key()
  friend bool operator==(const DecidedUnder&, const DecidedUnder&) = default;
};

// A prepared statement: a protocol Parse or a SQL PREPARE (one namespace).
struct PreparedStatement {
  std::string name;
  TextRef source;  // the Parse's query, or the PREPARE statement of a Query
  bool from_sql_prepare = false;
  // cycles_sent() when it was sent: a Bind in the same cycle (no Sync
  // between) binds it or is skipped with it.
  uint64_t parsed_in_cycle = 0;
  // The parameter types the Parse gave (0: unspecified); for showing a
  // Bind's binary parameters to people approving it.
  std::vector<uint32_t> parameter_types;

  struct PolicyNotes {
    std::shared_ptr<const sql::StatementFacts> facts;  // what it runs, as decided
    DecidedUnder decided;
    // Its text needs approval: each Bind of it waits for people (with the
    // parameters they approve), unless a standing grant covers it.
    bool needs_approval = false;
  } policy;
  struct MaskNotes {
    std::weak_ptr<const void> checked_with;  // the mask model its writes were checked under
  } mask;
};

// A portal: a protocol Bind or a SQL cursor (DECLARE); one namespace.
struct Portal {
  enum class Origin : uint8_t { bind, declare, unknown };
  std::string name;
  Origin origin = Origin::unknown;
  std::string statement_name;                          // bind: the statement named in the Bind
  std::shared_ptr<const PreparedStatement> statement;  // bind: what it ran, once bound (null: unknown)
  TextRef cursor;                                      // declare: the DECLARE statement
  bool holdable = false;
  uint64_t transaction = 0;  // the tracker's transaction epoch it was made in
  uint64_t made_in_cycle = 0;  // the cycles answered before the one that made it
  // bind, in flight: the cycle of its Bind, and whether a Describe of it
  // followed in that cycle (its rows' shape will be known before its rows).
  uint64_t bound_in_cycle = 0;
  bool described_with_bind = false;
  // It may be gone, or another portal may have taken its name where pgwarden
  // could not see it (ROLLBACK TO SAVEPOINT): masking assumes the worst.
  bool uncertain = false;

  struct PolicyNotes {
    DecidedUnder decided;
  } policy;
  struct MaskNotes {
    bool planned = false;  // the server described it to pgwarden
    mask::RowPlan plan;
    std::weak_ptr<const void> planned_with;
  } mask;

  // What the portal runs, whichever way it was made.
  TextRef source() const {
    if (origin == Origin::declare) return cursor;
    if (statement) return statement->source;
    return {};
  }
};

}  // namespace pgw::relay
