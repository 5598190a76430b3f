#include "policy/mask_model.h"

#include <algorithm>

#include "policy/glob.h"
#include "policy/session_sql_state.h"
#include "policy/statistics_views.h"
#include "sql/function_denylist.h"

namespace pgw::policy {

namespace {

std::uint64_t column_key(Oid relation, std::int16_t attnum) {
  return (static_cast<std::uint64_t>(relation) << 16) | static_cast<std::uint16_t>(attnum);
}


// Relations whose columns hold stored values a column rule can name.
bool holds_rows(RelationKind k) {
  return k == RelationKind::table || k == RelationKind::partitioned || k == RelationKind::foreign ||
         k == RelationKind::matview;
}

bool is_view_kind(RelationKind k) { return k == RelationKind::view || k == RelationKind::matview; }

// Without a snapshot: could this glob name a relation (part 1) or column
// (part 2) called `name`? A glob with `**` could name anything.
bool glob_could_name(std::string_view glob, size_t part, std::string_view name) {
  const auto parts = split_dotted_glob(glob);
  return dotted_glob_spans(parts) || parts.size() != 3 || glob_part_match(parts[part], name);
}

void add_taint(std::unordered_map<std::string, sql::Taint>& map, const std::string& key, sql::Taint t) {
  auto [it, inserted] = map.emplace(key, t);
  if (!inserted) it->second = sql::worst(it->second, t);
}

constexpr int kMaxRounds = 16;

}  // namespace

Result<std::shared_ptr<const MaskModel>> MaskModel::build(const Policy& policy, const Catalog* catalog,
                                                          std::shared_ptr<const mask::KeyedHash> hash_key) {
  std::shared_ptr<MaskModel> m(new MaskModel());
  m->oracle_.model = m.get();
  m->catalog_ = catalog;
  m->strict_ = policy.strict;
  m->active_ = !policy.mask.empty();
  bool every_column_rule_nulls = true;
  bool first_detect = true;
  for (const MaskRule& rule : policy.mask) {
    auto fn = mask::MaskFunction::from_spec(rule.with, hash_key);
    if (!fn) return Error{fn.error()};
    if (rule.column) {
      m->column_globs_.push_back(*rule.column);
      m->functions_.push_back(*fn);
      every_column_rule_nulls = every_column_rule_nulls && rule.with.kind == mask::MaskSpec::Kind::null;
      continue;
    }
    for (mask::Detector d : rule.detect) m->detectors_.add(d);
    if (first_detect) m->detect_function_ = *fn;
    first_detect = false;
  }
  m->derived_function_ = !m->functions_.empty() && every_column_rule_nulls ? mask::MaskFunction::null()
                                                                            : mask::MaskFunction::redact();
  // Under strict, a derived value must not tell its length either
  // (repeat('x', ascii(substr(ssn, 1, 1))) would show a character code as a
  // count of stars): it becomes one fixed text.
  if (policy.strict && m->derived_function_.kind() == mask::MaskFunction::Kind::redact) {
    m->derived_function_ = mask::MaskFunction::fixed("****");
  }
  if (catalog == nullptr) return std::shared_ptr<const MaskModel>(std::move(m));

  // Column rules against every stored column.
  for (const CatalogRelation& rel_ref : catalog->relations()) {
    const CatalogRelation* rel = &rel_ref;
    if (is_view_kind(rel->kind) && (!rel->definition.empty() || !is_system_schema(rel->schema))) {
      m->views_.insert(rel->oid);
    }
    if (is_system_schema(rel->schema) || !holds_rows(rel->kind)) continue;
    for (const CatalogColumn& col : catalog->columns(rel->oid)) {
      for (size_t i = 0; i < m->column_globs_.size(); ++i) {
        const std::string_view name[] = {rel->schema, rel->name, col.name};
        if (!dotted_glob_match(m->column_globs_[i], name)) continue;
        m->column_rules_.emplace(column_key(rel->oid, col.attnum), static_cast<std::uint32_t>(i));
        m->masked_relation_names_.insert(rel->name);
        m->masked_relation_names_.insert(rel->schema + "." + rel->name);
        m->masked_column_names_.insert(col.name);
        break;
      }
    }
  }
  m->inherit_rules();
  if (!m->column_rules_.empty()) m->mask_system_values();
  for (const CatalogFunction& fn : catalog->functions()) {
    if (is_system_schema(fn.schema)) m->builtin_functions_.insert(fn.name);
    if (fn.takes_a_row) m->row_functions_.insert(fn.name);
  }
  m->trace_definitions();
  return std::shared_ptr<const MaskModel>(std::move(m));
}

// A partition or inheritance child holds its parent's columns: the parent's
// rules cover it (through any depth of partitioning), by column name.
void MaskModel::inherit_rules() {
  // A rule covers the same column of every table it is inherited by (a
  // partition, a child), and of every table above: a parent's scan returns
  // its children's rows, so a masked partition attached under a parent of
  // the client's own would otherwise be read through that parent in clear.
  auto copy_rules = [this](Oid from, Oid to) {
    const CatalogRelation* target = catalog_->relation(to);
    if (target == nullptr) return false;
    bool changed = false;
    for (const CatalogColumn& fc : catalog_->columns(from)) {
      auto rule = column_rules_.find(column_key(from, fc.attnum));
      if (rule == column_rules_.end()) continue;
      for (const CatalogColumn& tc : catalog_->columns(to)) {
        if (tc.name != fc.name) continue;
        if (column_rules_.emplace(column_key(to, tc.attnum), rule->second).second) changed = true;
        masked_relation_names_.insert(target->name);
        masked_relation_names_.insert(target->schema + "." + target->name);
      }
    }
    return changed;
  };
  for (int round = 0; round < kMaxRounds; ++round) {
    bool changed = false;
    for (const Inheritance& e : catalog_->inheritance()) {
      changed = copy_rules(e.parent, e.child) || changed;
      changed = copy_rules(e.child, e.parent) || changed;
    }
    if (!changed) return;
  }
}

// Columns of system views that show other tables' values, or other
// sessions' SQL text; readable by whoever may read the tables, or by any
// session of the same role:
// - the planner statistics: the most common values and histogram bounds of
//   a masked column are its values;
// - each session's current or last statement (pg_stat_activity.query): an
//   application's SQL carries what it stores and looks up as literals
//   (`WHERE ssn = '488-34-9571'`).
// With any column rule in force these columns count as masked, the others
// of their views as clean (they describe, not hold, values).
void MaskModel::mask_system_values() {
  static constexpr std::string_view kStatisticsValueColumns[] = {
      "most_common_vals", "histogram_bounds", "most_common_elems", "stavalues1", "stavalues2", "stavalues3",
      "stavalues4",       "stavalues5",       "stxdmcv",           "stxdexpr",   "exprs"};
  static constexpr std::string_view kActivityTextColumns[] = {"query"};
  for (std::string_view name : kStatisticsRelations) mask_system_columns(name, kStatisticsValueColumns);
  mask_system_columns("pg_stat_activity", kActivityTextColumns);
}

void MaskModel::mask_system_columns(std::string_view relation, std::span<const std::string_view> value_columns) {
  const CatalogRelation* rel = catalog_->find("pg_catalog", relation);
  if (rel == nullptr) return;
  bool any = false;
  for (const CatalogColumn& c : catalog_->columns(rel->oid)) {
    const bool value_column = std::find(value_columns.begin(), value_columns.end(), c.name) != value_columns.end();
    view_columns_[column_key(rel->oid, c.attnum)] = value_column ? sql::Taint::tainted : sql::Taint::clean;
    if (!value_column) continue;
    masked_column_names_.insert(c.name);
    any = true;
  }
  if (!any) return;
  views_.insert(rel->oid);
  masked_relation_names_.insert(rel->name);
  masked_relation_names_.insert(rel->schema + "." + rel->name);
}

// The functions that return other sessions' SQL text: the one under
// pg_stat_activity, its one-backend form, and pg_stat_statements (an
// extension, in whatever schema it was installed; it replaces most
// constants with $1, not all). By name, so that a call in any spelling,
// attribute notation included, and a model without a snapshot agree.
bool MaskModel::returns_session_text(std::string_view function) const {
  static constexpr std::string_view kNames[] = {"pg_stat_get_activity", "pg_stat_get_backend_activity",
                                                "pg_stat_statements"};
  return masks_columns() && std::find(std::begin(kNames), std::end(kNames), function) != std::end(kNames);
}

// Views and SQL functions are traced with the oracle as it stands, which
// they extend in turn (a view over a view, a function over a view); rounds
// repeat until nothing changes. What has not settled then is tainted.
void MaskModel::trace_definitions() {
  struct Pending {
    const CatalogRelation* view = nullptr;
    const CatalogFunction* function = nullptr;
  };
  std::vector<Pending> pending;
  for (const CatalogRelation& rel : catalog_->relations()) {
    if (views_.count(rel.oid) != 0 && !rel.definition.empty()) pending.push_back({&rel, nullptr});
  }
  for (const CatalogFunction& fn_ref : catalog_->functions()) {
    const CatalogFunction* fn = &fn_ref;
    if (is_system_schema(fn->schema)) continue;
    // SQL functions start clean and only ever get worse as the rounds
    // trace them: a view or function calling one is not tainted just
    // because it was traced first. Every other language (C and `internal`
    // too: an alias of query_to_xml is one CREATE FUNCTION away) is opaque.
    const bool traceable = fn->language == "sql" && !fn->body.empty();
    if (traceable) pending.push_back({nullptr, fn});
    const sql::Taint t = traceable ? sql::Taint::clean : sql::Taint::untraceable;
    add_taint(function_taints_, fn->name, t);
    add_taint(function_taints_, fn->schema + "." + fn->name, t);
  }
  // A user view pgwarden has no definition of: nothing is known of its columns.
  for (const CatalogRelation& rel : catalog_->relations()) {
    if (views_.count(rel.oid) == 0 || !rel.definition.empty() || is_system_schema(rel.schema)) continue;
    for (const CatalogColumn& c : catalog_->columns(rel.oid)) {
      view_columns_[column_key(rel.oid, c.attnum)] = sql::Taint::tainted;
      masked_column_names_.insert(c.name);
    }
    masked_relation_names_.insert(rel.name);
    masked_relation_names_.insert(rel.schema + "." + rel.name);
  }
  bool settled = false;
  for (int round = 0; round < kMaxRounds && !settled; ++round) {
    const size_t before = masked_relation_names_.size() + masked_column_names_.size() + function_taints_.size() +
                          view_columns_.size();
    size_t changed_views = 0;
    std::vector<std::pair<std::string, sql::Taint>> function_updates;
    for (const Pending& p : pending) {
      if (p.view != nullptr) {
        const auto columns = catalog_->columns(p.view->oid);
        auto traced = sql::trace_lineage(p.view->definition, oracle_);
        std::vector<sql::Taint> taints(columns.size(), sql::Taint::tainted);
        if (traced && traced->size() == 1) {
          const auto& outputs = (*traced)[0].outputs;
          const bool positional = outputs.size() == columns.size() &&
                                  std::none_of(outputs.begin(), outputs.end(), [](auto& o) { return o.star; });
          sql::Taint all = sql::Taint::clean;
          for (const auto& o : outputs) all = sql::worst(all, o.taint);
          for (size_t i = 0; i < columns.size(); ++i) taints[i] = positional ? outputs[i].taint : all;
        }
        std::vector<std::string> plain(columns.size());
        if (traced && traced->size() == 1) {
          const auto& outputs = (*traced)[0].outputs;
          if (outputs.size() == columns.size()) {
            for (size_t i = 0; i < columns.size(); ++i) plain[i] = outputs[i].star ? "" : outputs[i].plain_column;
          }
        }
        bool any = false;
        for (size_t i = 0; i < columns.size(); ++i) {
          const std::uint64_t key = column_key(p.view->oid, columns[i].attnum);
          if (!plain[i].empty() && taints[i] == sql::Taint::tainted) {
            if (auto rule = plain_view_rule(p.view->oid, plain[i])) view_column_rules_[key] = *rule;
          }
          auto [it, inserted] = view_columns_.emplace(key, taints[i]);
          if (!inserted && sql::worst(it->second, taints[i]) != it->second) {
            it->second = sql::worst(it->second, taints[i]);
            ++changed_views;
          }
          // An untraceable column counts as masked for what reads the view:
          // the tracer has no "untraceable column", and clean would drop the
          // detectors the column itself gets (`SELECT upper(u) FROM v`).
          if (it->second != sql::Taint::clean) masked_column_names_.insert(columns[i].name);
          any = any || it->second != sql::Taint::clean;
        }
        if (any) {
          masked_relation_names_.insert(p.view->name);
          masked_relation_names_.insert(p.view->schema + "." + p.view->name);
        }
        continue;
      }
      auto traced = sql::trace_lineage(p.function->body, oracle_);
      sql::Taint t = sql::Taint::tainted;  // a body that does not trace counts as reading everything
      if (traced) {
        t = sql::Taint::clean;
        for (const auto& st : *traced) {
          if (st.touches_masked) t = sql::worst(t, sql::Taint::tainted);
          for (const auto& o : st.outputs) t = sql::worst(t, o.taint);
        }
      }
      function_updates.emplace_back(p.function->name, t);
      function_updates.emplace_back(p.function->schema + "." + p.function->name, t);
    }
    size_t changed_functions = 0;
    for (auto& [name, t] : function_updates) {
      auto it = function_taints_.find(name);
      if (it == function_taints_.end() || sql::worst(it->second, t) != it->second) ++changed_functions;
      add_taint(function_taints_, name, t);
    }
    const size_t after = masked_relation_names_.size() + masked_column_names_.size() + function_taints_.size() +
                         view_columns_.size();
    settled = before == after && changed_functions == 0 && changed_views == 0 && round > 0;
  }
  if (!settled) {
    // Definitions that keep feeding each other: everything they define is masked.
    for (const Pending& p : pending) {
      if (p.view != nullptr) {
        for (const CatalogColumn& c : catalog_->columns(p.view->oid)) {
          view_columns_[column_key(p.view->oid, c.attnum)] = sql::Taint::tainted;
          masked_column_names_.insert(c.name);
        }
        masked_relation_names_.insert(p.view->name);
      } else {
        function_taints_[p.function->name] = sql::Taint::tainted;
        function_taints_[p.function->schema + "." + p.function->name] = sql::Taint::tainted;
      }
    }
  }
}

std::optional<std::uint32_t> MaskModel::plain_view_rule(Oid view, const std::string& column) const {
  std::optional<std::uint32_t> found;
  bool named = false;
  for (const CatalogRelation* base : catalog_->base_relations(view)) {
    for (const CatalogColumn& c : catalog_->columns(base->oid)) {
      if (c.name != column) continue;
      named = true;
      const std::uint64_t key = column_key(base->oid, c.attnum);
      std::optional<std::uint32_t> rule;
      if (auto it = column_rules_.find(key); it != column_rules_.end()) {
        rule = it->second;
      } else if (auto v = view_column_rules_.find(key); v != view_column_rules_.end()) {
        rule = v->second;
      }
      // A same-named column without a rule, or with another one: which one
      // the view shows is not certain, so it is redacted whole.
      if (!rule || (found && *found != *rule)) return std::nullopt;
      found = rule;
    }
  }
  return named ? found : std::nullopt;
}

const mask::MaskFunction* MaskModel::column_function(Oid relation, std::int16_t attnum) const {
  const std::uint64_t key = column_key(relation, attnum);
  if (auto it = column_rules_.find(key); it != column_rules_.end()) return &functions_[it->second];
  if (auto it = view_column_rules_.find(key); it != view_column_rules_.end()) return &functions_[it->second];
  return nullptr;
}

std::string MaskModel::column_rule_name(Oid relation, std::int16_t attnum) const {
  const std::uint64_t key = column_key(relation, attnum);
  if (auto it = column_rules_.find(key); it != column_rules_.end()) return column_globs_[it->second];
  if (auto it = view_column_rules_.find(key); it != view_column_rules_.end()) return column_globs_[it->second];
  return {};
}

sql::Taint MaskModel::view_column_taint(Oid relation, std::int16_t attnum) const {
  auto it = view_columns_.find(column_key(relation, attnum));
  if (it != view_columns_.end()) return it->second;
  // A view the snapshot lists without a traced column: unknown, so masked.
  return views_.count(relation) != 0 ? sql::Taint::tainted : sql::Taint::clean;
}

bool MaskModel::is_view(Oid relation) const { return views_.count(relation) != 0; }

std::vector<MaskModel::CopyColumn> MaskModel::copy_columns(Oid relation) const {
  std::vector<CopyColumn> out;
  if (catalog_ == nullptr) return out;
  for (const CatalogColumn& c : catalog_->columns(relation)) {
    CopyColumn cc;
    cc.name = c.name;
    cc.function = column_function(relation, c.attnum);
    cc.taint = is_view(relation) ? view_column_taint(relation, c.attnum) : sql::Taint::clean;
    cc.type = c.type;
    out.push_back(std::move(cc));
  }
  return out;
}

bool MaskModel::Oracle::relation_is_masked(std::string_view schema, std::string_view name) const {
  if (model->catalog_ == nullptr) {
    // No snapshot: a relation is masked when some rule could name it.
    for (const auto& g : model->column_globs_) {
      if (glob_could_name(g, 1, name)) return true;
    }
    return false;
  }
  if (schema.empty()) return model->masked_relation_names_.count(std::string(name)) != 0;
  return model->masked_relation_names_.count(std::string(schema) + "." + std::string(name)) != 0;
}

bool MaskModel::Oracle::column_is_masked(std::string_view column) const {
  if (model->catalog_ == nullptr) {
    for (const auto& g : model->column_globs_) {
      if (glob_could_name(g, 2, column)) return true;
    }
    return false;
  }
  return model->masked_column_names_.count(std::string(column)) != 0;
}

sql::Taint MaskModel::Oracle::function_taint(std::string_view schema, std::string_view name) const {
  // query_to_xml('SELECT ssn FROM customers', ...), dblink(...): SQL in a
  // string returns whatever that SQL reads, which no parse tree shows.
  const sql::FunctionRisk risk = sql::builtin_function_risk(name);
  if (risk == sql::FunctionRisk::sql_in_string || risk == sql::FunctionRisk::remote_sql) return sql::Taint::tainted;
  if (model->returns_session_text(name)) return sql::Taint::tainted;
  if (is_system_schema(schema)) return sql::Taint::clean;
  const std::string key = schema.empty() ? std::string(name) : std::string(schema) + "." + std::string(name);
  if (auto it = model->function_taints_.find(key); it != model->function_taints_.end()) return it->second;
  // Unqualified built-ins resolve to pg_catalog first.
  if (schema.empty() && model->builtin_functions_.count(key) != 0) return sql::Taint::clean;
  // Not in the snapshot: created since, or not a function at all (the server
  // will say). Nothing is known about what it returns.
  return sql::Taint::tainted;
}

sql::Taint MaskModel::Oracle::field_call_taint(std::string_view name) const {
  const sql::FunctionRisk risk = sql::builtin_function_risk(name);
  if (risk == sql::FunctionRisk::sql_in_string || risk == sql::FunctionRisk::remote_sql) return sql::Taint::tainted;
  if (model->returns_session_text(name)) return sql::Taint::tainted;
  // A user function of that name (in any schema: the server picks one by
  // search_path and argument types); built-ins return what their arguments
  // hold, and a name no function has is a column.
  if (auto it = model->function_taints_.find(std::string(name)); it != model->function_taints_.end())
    return it->second;
  return sql::Taint::clean;
}

bool MaskModel::Oracle::takes_a_row(std::string_view name) const {
  return model->row_functions_.count(std::string(name)) != 0;
}

namespace {

// Encodings whose multibyte characters can hold ASCII bytes (a backslash,
// a quote, a delimiter): PostgreSQL's client-only encodings, by every name
// pg_char_to_encoding() knows them by (normalized: upper case, letters and
// digits only).
bool embeds_ascii(std::string_view normalized_encoding) {
  static constexpr std::string_view kNames[] = {
      "SJIS",  "MSKANJI", "SHIFTJIS",   "WIN932", "WINDOWS932", "SHIFTJIS2004", "BIG5", "WIN950", "WINDOWS950",
      "GBK",   "WIN936",  "WINDOWS936", "GB18030", "UHC",       "WIN949",       "WINDOWS949", "JOHAB"};
  for (std::string_view name : kNames)
    if (normalized_encoding == name) return true;
  return false;
}

bool carries_values(const sql::StatementLineage& st, const MaskModel& model) {
  if (st.touches_masked || !model.detectors().empty()) return true;
  for (const auto& o : st.outputs) {
    if (o.taint != sql::Taint::clean) return true;
  }
  return st.source == sql::RowSource::copy_table && model.oracle().relation_is_masked(st.copy_schema, st.copy_table);
}

}  // namespace

std::optional<MaskDenial> masking_denial(std::span<const sql::StatementLineage> statements, const MaskModel& model,
                                         std::string_view identity, std::string_view client_encoding) {
  const std::string who(identity);
  for (const auto& st : statements) {
    if (st.writes_masked) {
      const std::string target = st.write_target.empty() ? std::string("a write of masked values") : st.write_target;
      return MaskDenial{"pgwarden: " + target + " denied by policy for " + who,
                        "The statement could move values of masked columns where pgwarden cannot mask them."};
    }
    if (model.strict() && st.filters_on_masked) {
      return MaskDenial{"pgwarden: filtering on masked values denied by policy for " + who,
                        "strict: true denies masked columns in WHERE, JOIN, GROUP BY, HAVING, ORDER BY, "
                        "DISTINCT, set operations that remove duplicates, window clauses, MERGE conditions and LIMIT, "
                        "and keys and indexes on them."};
    }
    const bool is_copy = st.source == sql::RowSource::copy_table || st.source == sql::RowSource::copy_query;
    if (is_copy && !st.copy_options_error.empty()) {
      // The server would refuse them too; pgwarden will not guess at the
      // format of rows it must mask.
      return MaskDenial{"pgwarden: COPY with options pgwarden cannot read while masking is in force denied by "
                        "policy for " + who,
                        "PostgreSQL would refuse these COPY options (" + st.copy_options_error + ")."};
    }
    const std::string session_encoding = normalize_encoding_name(client_encoding);
    const std::string rows_encoding =
        st.copy_encoding_set ? normalize_encoding_name(st.copy_encoding) : session_encoding;
    if (is_copy && !st.copy_binary && (rows_encoding != session_encoding || embeds_ascii(rows_encoding))) {
      return MaskDenial{"pgwarden: COPY in an encoding other than the session's while masking is in force denied "
                        "by policy for " + who,
                        "Rows in another encoding can hold bytes that look like quotes, backslashes or "
                        "delimiters inside characters; pgwarden masks COPY rows in the session's encoding (" +
                            session_encoding + ") only, and not in encodings whose characters hold such bytes."};
    }
    if (is_copy && st.copy_binary && carries_values(st, model)) {
      return MaskDenial{"pgwarden: binary COPY of masked values denied by policy for " + who,
                        "pgwarden masks COPY in text and CSV format only; use FORMAT text or csv."};
    }
  }
  return std::nullopt;
}

}  // namespace pgw::policy
