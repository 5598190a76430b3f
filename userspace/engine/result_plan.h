// Turns what the server says about a result (RowDescription, or a COPY's
// column list) and what pgwarden traced about the statement (lineage) into a
// RowPlan: per column, pass, mask, null or scan with the detectors.
//
// A column's fate, in this order:
//   1. the server names a table column (attribute > 0; 0 is a whole-row
//      reference) as its origin and a column rule
//      matches it: the rule's function;
//   2. the origin is a view column: its lineage through the view definition;
//   3. the origin is any other table column: clean (a plain column value);
//   4. no origin (an expression): the statement's lineage for that output
//      position; when the position cannot be told (several `*`), the worst
//      taint of all outputs; when nothing is known about the statement
//      (it did not parse), tainted.
// tainted → the model's derived function (redact; NULL for non-text types),
// untraceable → every detector (and a log line saying so),
// clean → the policy's detectors on text-like and JSON columns, if any.
#pragma once

#include <string>
#include <vector>

#include "mask/copy_rewriter.h"
#include "mask/row_plan.h"
#include "pgwire/row_description.h"
#include "policy/mask_model.h"
#include "sql/lineage.h"

namespace pgw::engine {

// Column names the plan applies the detectors to because their lineage is
// unknown (for the decision log).
struct PlanNotes {
  std::vector<std::string> untraceable;
};

mask::RowPlan plan_for_rows(const pgwire::RowDescription& description, const sql::StatementLineage* lineage,
                            const policy::MaskModel& model, PlanNotes& notes);

// COPY ... TO STDOUT in text or CSV: the plan by column position, or an
// error when pgwarden cannot tell the columns (then the COPY must not run).
// `relation` is the COPY's table when it names one (null for COPY (query)
// or a table the catalog does not know).
Result<mask::RowPlan> plan_for_copy(const sql::StatementLineage& lineage, const policy::CatalogRelation* relation,
                                    size_t column_count, const policy::MaskModel& model, PlanNotes& notes);

// COPY options of a COPY TO statement, as the rewriter needs them.
mask::CopyFormat copy_format_of(const sql::StatementLineage& lineage);

}  // namespace pgw::engine
