#include "engine/result_plan.h"

#include <algorithm>

#include "mask/type_shapes.h"

namespace pgw::engine {

namespace {

using sql::Taint;

// The taint of each result column that has no origin, by position: the
// outputs map one to one, except one `*` that stands for however many
// columns are left over. Several stars (or a count that does not add up):
// every position gets the worst taint of all outputs.
std::vector<Taint> taints_by_position(const sql::StatementLineage* lineage, size_t field_count) {
  if (lineage == nullptr) return std::vector<Taint>(field_count, Taint::tainted);
  const auto& outputs = lineage->outputs;
  if (lineage->source == sql::RowSource::other || outputs.empty()) {
    // SHOW / EXPLAIN / CALL, or rows the tracer did not describe.
    const Taint t = lineage->source == sql::RowSource::other ? lineage->taint_other : Taint::tainted;
    return std::vector<Taint>(field_count, t);
  }
  Taint worst_all = Taint::clean;
  size_t stars = 0;
  for (const auto& o : outputs) {
    worst_all = sql::worst(worst_all, o.taint);
    if (o.star) ++stars;
  }
  std::vector<Taint> taints;
  taints.reserve(field_count);
  if (stars == 0 && outputs.size() == field_count) {
    for (const auto& o : outputs) taints.push_back(o.taint);
    return taints;
  }
  if (stars == 1 && outputs.size() - 1 <= field_count) {
    const size_t star_width = field_count - (outputs.size() - 1);
    for (const auto& o : outputs) {
      const size_t width = o.star ? star_width : 1;
      for (size_t i = 0; i < width; ++i) taints.push_back(o.taint);
    }
    return taints;
  }
  return std::vector<Taint>(field_count, worst_all);
}

// A column rule's function; what it keeps of the value (an email's domain,
// partial's ends) still goes through the policy's detectors.
mask::ColumnRule rule_for_column(const mask::MaskFunction& fn, uint32_t type, int16_t format,
                                 const policy::MaskModel& model) {
  return mask::ColumnRule::masked_and_scanned(fn, model.detectors(), model.detect_function(), type, format);
}

mask::ColumnRule rule_for_taint(Taint taint, uint32_t type, int16_t format, const policy::MaskModel& model) {
  switch (taint) {
    case Taint::tainted:
      return mask::ColumnRule::masked(model.derived_function(), type, format);
    case Taint::untraceable:
      return mask::ColumnRule::detected(mask::DetectorSet::all(), model.derived_function(), type, format);
    case Taint::clean:
      break;
  }
  // Detectors judge the text a value prints, whatever its type (arrays,
  // records, bytea, numbers...); only types that cannot print a hit skip them.
  if (!model.detectors().empty() && mask::may_hold_detectable_text(type)) {
    return mask::ColumnRule::detected(model.detectors(), model.detect_function(), type, format);
  }
  return mask::ColumnRule::pass_through(type, format);
}

}  // namespace

mask::RowPlan plan_for_rows(const pgwire::RowDescription& description, const sql::StatementLineage* lineage,
                            const policy::MaskModel& model, PlanNotes& notes) {
  const size_t count = description.fields.size();
  const std::vector<Taint> positional = taints_by_position(lineage, count);
  std::vector<mask::ColumnRule> rules;
  rules.reserve(count);
  size_t i = 0;
  for (const pgwire::FieldDescription field : description.fields) {
    Taint taint = positional[i++];
    // Attribute 0 is the whole row (SELECT c FROM customers c reports the
    // table with column 0), negative ones are system columns: neither is a
    // plain column value, so lineage decides.
    if (field.table != 0 && field.column > 0) {
      if (const mask::MaskFunction* fn = model.column_function(field.table, field.column)) {
        rules.push_back(rule_for_column(*fn, field.type, field.format, model));
        continue;
      }
      // A plain column of a table no rule covers is that column's value; a
      // view column is as masked as its definition makes it.
      taint = model.is_view(field.table) ? model.view_column_taint(field.table, field.column) : Taint::clean;
    }
    if (taint == Taint::untraceable) notes.untraceable.emplace_back(field.name);
    rules.push_back(rule_for_taint(taint, field.type, field.format, model));
  }
  return mask::RowPlan(std::move(rules));
}

Result<mask::RowPlan> plan_for_copy(const sql::StatementLineage& lineage, const policy::CatalogRelation* relation,
                                    size_t column_count, const policy::MaskModel& model, PlanNotes& notes) {
  std::vector<mask::ColumnRule> rules;
  rules.reserve(column_count);
  if (lineage.source == sql::RowSource::copy_query) {
    for (Taint taint : taints_by_position(&lineage, column_count)) {
      rules.push_back(rule_for_taint(taint, 0, mask::kTextFormat, model));
    }
    return mask::RowPlan(std::move(rules));
  }
  if (relation == nullptr) {
    // A table the snapshot does not know has no column rule; its columns
    // still go through the detectors.
    for (size_t i = 0; i < column_count; ++i) {
      rules.push_back(rule_for_taint(Taint::clean, 0, mask::kTextFormat, model));
    }
    return mask::RowPlan(std::move(rules));
  }
  const auto columns = model.copy_columns(relation->oid);
  std::vector<const policy::MaskModel::CopyColumn*> chosen;
  if (lineage.outputs.empty()) {
    for (const auto& c : columns) chosen.push_back(&c);
  } else {
    for (const auto& o : lineage.outputs) {
      auto it = std::find_if(columns.begin(), columns.end(), [&](const auto& c) { return c.name == o.name; });
      if (it == columns.end()) {
        return Error{"pgwarden: COPY column " + o.name + " of " + relation->qualified() +
                     " is not in pgwarden's catalog snapshot; retry in a moment"};
      }
      chosen.push_back(&*it);
    }
  }
  if (chosen.size() != column_count) {
    return Error{"pgwarden: COPY of " + relation->qualified() +
                 " returns a different number of columns than pgwarden's catalog snapshot knows; retry in a moment"};
  }
  for (const auto* c : chosen) {
    // COPY text has no types: mask as text (a NULL would be a value change
    // the reader cannot tell from a real NULL, but never a leak).
    if (c->function != nullptr) {
      rules.push_back(rule_for_column(*c->function, 0, mask::kTextFormat, model));
      continue;
    }
    if (c->taint == Taint::untraceable) notes.untraceable.push_back(c->name);
    // A clean column's built-in type tells the detectors what its text is (a
    // bytea in hex, an array literal, a number a hit must null rather than
    // star). The catalog names a domain by its own OID, which says nothing
    // here: such a column is read as text of an unknown type.
    constexpr uint32_t kFirstNormalObjectId = 16384;
    const uint32_t type = c->taint == Taint::clean && c->type < kFirstNormalObjectId ? c->type : 0;
    rules.push_back(rule_for_taint(c->taint, type, mask::kTextFormat, model));
  }
  return mask::RowPlan(std::move(rules));
}

mask::CopyFormat copy_format_of(const sql::StatementLineage& lineage) {
  mask::CopyFormat format = lineage.copy_csv ? mask::CopyFormat::csv() : mask::CopyFormat::text();
  if (lineage.copy_delimiter != 0) format.delimiter = lineage.copy_delimiter;
  if (lineage.copy_csv) {
    if (lineage.copy_quote != 0) format.quote = lineage.copy_quote;
    format.escape = lineage.copy_escape != 0 ? lineage.copy_escape : format.quote;
  }
  if (lineage.copy_null_set) format.null_string = lineage.copy_null;
  return format;
}

}  // namespace pgw::engine
