// What one policy masks, resolved against one catalog snapshot: the bridge
// between the config's `mask:` rules and the engine's row rewriters.
//
//   auto model = MaskModel::build(policy, catalog.get(), hash_key);
//   if (!model->active()) ...                    // nothing to mask: relay as is
//   model->column_function(table_oid, attnum)    // a column rule's function, or null
//   model->view_column_taint(view_oid, attnum)   // lineage of a view's column
//   sql::trace_lineage(text, model->oracle())    // lineage of a statement
//
// Column rules (`column: "schema.table.column"`, globs per dot-separated
// part as `tables:` uses them) match the catalog's table columns (tables,
// partitioned tables, foreign tables, materialized views) by name, and
// cover the partitions and inheritance children of what they match. With
// any column rule, the value columns of the planner statistics views
// (pg_stats: most_common_vals, histogram_bounds, ...) count as masked:
// they hold sample values of every column; so does other sessions' SQL
// text (pg_stat_activity.query, pg_stat_get_activity(),
// pg_stat_statements), which holds the literals an application stores and
// looks up. A view's
// columns are traced through its definition (pg_get_viewdef, analysed with
// the same lineage tracer): a view column that derives from a masked column
// is tainted and masked as a whole. SQL-language functions whose body reads
// a masked value are tainted; other functions outside pg_catalog and
// information_schema are untraceable (their results go through the content
// detectors). Views over views and functions calling functions resolve
// through each other: SQL functions start clean and every definition is
// traced again until nothing changes (a cycle is tainted when any member
// reads a masked value); what has not settled after the last round is
// tainted. A view column that derives from an untraceable one counts as
// tainted, and a user view without a definition is tainted whole.
//
// Immutable after build(); shared by every session of a policy on one
// snapshot (the engine caches it by config generation and catalog version).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "mask/detector.h"
#include "mask/keyed_hash.h"
#include "mask/mask_function.h"
#include "policy/catalog.h"
#include "policy/config.h"
#include "sql/lineage.h"

namespace pgw::policy {

class MaskModel {
 public:
  // `hash_key` may be null when no rule uses `hash` (the config loader
  // refuses a `hash` rule without mask_hash_key_file). `catalog` may be null
  // (no snapshot): then no column rule resolves, no view is known, the
  // oracle answers from the rules' globs alone (a relation or column some
  // glob could name is masked) and every function call not qualified with
  // pg_catalog or information_schema is tainted (nothing tells built-ins
  // from user functions). A view over a masked table then looks
  // clean, so statements that read relations must not run on such a model
  // (the policy gate refuses them without a catalog).
  static Result<std::shared_ptr<const MaskModel>> build(const Policy& policy, const Catalog* catalog,
                                                        std::shared_ptr<const mask::KeyedHash> hash_key);

  // Any column rule or detector: the engine must follow results.
  bool active() const { return active_; }
  // Any column rule (resolved or not): values of masked columns may reach
  // text pgwarden cannot trace (a NOTIFY payload, another session's SQL).
  bool masks_columns() const { return !column_globs_.empty(); }

  // The function of the first column rule matching this table column, or
  // of the one masked column a view column shows as it is (`SELECT
  // c.email FROM customers c`: the view keeps the email mask); nullptr
  // when none does (then a view column goes by its taint, below).
  const mask::MaskFunction* column_function(Oid relation, std::int16_t attnum) const;
  // The rule behind a column (for logs: "public.customers.ssn"), or empty.
  std::string column_rule_name(Oid relation, std::int16_t attnum) const;

  // For a view or materialized-view column (RowDescription reports the
  // view's own OID): clean, tainted (derives from a masked column) or
  // untraceable. clean for relations that are not views.
  sql::Taint view_column_taint(Oid relation, std::int16_t attnum) const;

  bool is_view(Oid relation) const;

  // Every column of a relation in attnum order, with what COPY relation TO
  // STDOUT must do with it: a table column's own function, or, for a view,
  // its taint. Empty when the relation is unknown.
  struct CopyColumn {
    std::string name;
    const mask::MaskFunction* function = nullptr;  // a column rule applies
    sql::Taint taint = sql::Taint::clean;         // views only
    Oid type = 0;
  };
  std::vector<CopyColumn> copy_columns(Oid relation) const;

  // The union of every `detect:` rule's detectors, and the function they
  // apply (the first detect rule's; the loader refuses detect rules with
  // different functions). Empty set: no detect rule.
  const mask::DetectorSet& detectors() const { return detectors_; }
  const mask::MaskFunction& detect_function() const { return detect_function_; }

  // What a derived (tainted) value becomes: redact, or null when the
  // columns it derives from are masked with `null`.
  const mask::MaskFunction& derived_function() const { return derived_function_; }

  // Names for the lineage tracer.
  const sql::TaintOracle& oracle() const { return oracle_; }

  // strict: true in the policy.
  bool strict() const { return strict_; }

 private:
  MaskModel() = default;
  class Oracle final : public sql::TaintOracle {
   public:
    bool relation_is_masked(std::string_view schema, std::string_view name) const override;
    bool column_is_masked(std::string_view column) const override;
    sql::Taint function_taint(std::string_view schema, std::string_view name) const override;
    sql::Taint field_call_taint(std::string_view name) const override;
    bool takes_a_row(std::string_view name) const override;
    const MaskModel* model = nullptr;
  };
  friend class Oracle;
  // Traces views and SQL functions until their taints settle.
  void trace_definitions();
  void inherit_rules();
  // The rule a view column keeps when it is a bare reference to masked
  // columns of one rule only; nothing when that is not certain.
  std::optional<std::uint32_t> plain_view_rule(Oid view, const std::string& column) const;
  void mask_system_values();
  void mask_system_columns(std::string_view relation, std::span<const std::string_view> value_columns);
  bool returns_session_text(std::string_view function) const;

  bool active_ = false;
  bool strict_ = false;
  const Catalog* catalog_ = nullptr;  // borrowed: the engine keeps the snapshot alive with the model
  std::vector<std::string> column_globs_;           // one per column rule, "schema.table.column"
  std::vector<mask::MaskFunction> functions_;      // one per column rule
  std::unordered_map<std::uint64_t, std::uint32_t> column_rules_;  // key(oid, attnum) -> rule index
  std::unordered_map<std::uint64_t, sql::Taint> view_columns_;     // key(oid, attnum) -> taint
  // View columns that show one masked table column as it is: its rule.
  std::unordered_map<std::uint64_t, std::uint32_t> view_column_rules_;
  std::unordered_set<Oid> views_;
  std::unordered_set<std::string> masked_relation_names_;  // "name" and "schema.name"
  std::unordered_set<std::string> masked_column_names_;
  std::unordered_map<std::string, sql::Taint> function_taints_;  // user functions: "name" and "schema.name"
  std::unordered_set<std::string> builtin_functions_;            // names in pg_catalog / information_schema
  std::unordered_set<std::string> row_functions_;                // names of functions that take a whole row
  mask::DetectorSet detectors_;
  mask::MaskFunction detect_function_;
  mask::MaskFunction derived_function_;
  Oracle oracle_;
};

// Why masking refuses a statement before it runs, or nothing: a masked value
// would be written or sent where no result masking reaches (writes_masked),
// a strict policy sees a filter on a masked value, a binary COPY would
// carry values pgwarden must mask, or a COPY's rows would come in a form
// the masker cannot split for sure (options the server would refuse, an
// ENCODING other than `client_encoding`, the session's). `identity` names
// the workload in the message ("pgwarden: ... denied by policy for
// IDENTITY").
struct MaskDenial {
  std::string message;
  std::string detail;
};
std::optional<MaskDenial> masking_denial(std::span<const sql::StatementLineage> statements, const MaskModel& model,
                                         std::string_view identity, std::string_view client_encoding = "UTF8");

}  // namespace pgw::policy
