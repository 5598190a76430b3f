#include "cli/explain_masking.h"

#include <cstdio>

#include "mask/keyed_hash.h"

namespace pgw::cli {

namespace {

std::string_view source_name(sql::RowSource s) {
  switch (s) {
    case sql::RowSource::none: return "no rows";
    case sql::RowSource::query: return "rows of a query";
    case sql::RowSource::returning: return "rows of RETURNING";
    case sql::RowSource::declare: return "a cursor's rows (FETCH returns them)";
    case sql::RowSource::fetch: return "rows of a cursor declared earlier";
    case sql::RowSource::execute: return "rows of a statement prepared earlier";
    case sql::RowSource::prepare: return "a prepared statement's rows (EXECUTE returns them)";
    case sql::RowSource::copy_table: return "COPY of a table";
    case sql::RowSource::copy_query: return "COPY of a query";
    case sql::RowSource::other: return "rows that hold no table values (SHOW, EXPLAIN) or a procedure's";
  }
  return "?";
}

std::string_view fate(const sql::OutputColumn& o) {
  if (o.star) {
    return o.taint == sql::Taint::clean ? "clean"
                                        : "expands to table columns: each masked by its own rule, the rest as traced";
  }
  switch (o.taint) {
    case sql::Taint::clean: return "clean (content detectors, if any, on text)";
    case sql::Taint::tainted: return "derived from a masked column: masked whole";
    case sql::Taint::untraceable: return "untraceable: every content detector";
  }
  return "?";
}

const char* yes_no(bool b) { return b ? "yes" : "no"; }

}  // namespace

MaskingExplanation explain_masking(const policy::Config& config, const policy::Policy& policy,
                                   const policy::Catalog* catalog, std::string_view sql, const std::string& identity) {
  MaskingExplanation m;
  m.applies = !policy.mask.empty();
  m.rules = policy.mask.size();
  if (!m.applies) return m;
  std::shared_ptr<const mask::KeyedHash> key;
  if (config.mask_hash_key) {
    auto k = mask::KeyedHash::create(config.mask_hash_key->reveal());
    if (!k) {
      m.error = k.error();
      return m;
    }
    key = *k;
  }
  auto model = policy::MaskModel::build(policy, catalog, key);
  if (!model) {
    m.error = model.error();
    return m;
  }
  auto traced = sql::trace_lineage(sql, (*model)->oracle());
  if (!traced) {
    m.error = "pgwarden: a statement pgwarden cannot trace for masking denied by policy for " + identity + " (" +
              traced.error() + ")";
    return m;
  }
  m.statements = std::move(*traced);
  m.denial = policy::masking_denial(m.statements, **model, identity);
  return m;
}

void print_masking(const MaskingExplanation& m, bool have_catalog) {
  if (!m.applies) {
    std::printf("masking:   none (the policy has no mask rules)\n");
    return;
  }
  std::printf("masking:   %zu rule(s)%s\n", m.rules,
              have_catalog ? "" : "; without --live no view or function is traced and column rules name no column yet");
  if (!m.error.empty()) {
    std::printf("  refused: %s\n", m.error.c_str());
    return;
  }
  for (std::size_t i = 0; i < m.statements.size(); ++i) {
    const auto& st = m.statements[i];
    std::printf("  statement %zu: %s%s%s\n", i + 1, std::string(source_name(st.source)).c_str(),
                st.name.empty() ? "" : " ", st.name.c_str());
    for (std::size_t k = 0; k < st.outputs.size(); ++k) {
      const auto& o = st.outputs[k];
      std::printf("    column %zu %s: %s\n", k + 1, o.star ? "*" : o.name.c_str(), std::string(fate(o)).c_str());
    }
    std::printf("    reads masked values: %s   filters on them: %s   writes them: %s%s%s\n", yes_no(st.touches_masked),
                yes_no(st.filters_on_masked), yes_no(st.writes_masked), st.writes_masked ? " — " : "",
                st.write_target.c_str());
  }
  if (m.denial) std::printf("  refused: %s\n  detail:  %s\n", m.denial->message.c_str(), m.denial->detail.c_str());
}

nlohmann::json masking_json(const MaskingExplanation& m) {
  nlohmann::json j;
  j["rules"] = m.rules;
  if (!m.applies) return j;
  if (!m.error.empty()) j["refused"] = m.error;
  if (m.denial) j["refused"] = m.denial->message;
  j["statements"] = nlohmann::json::array();
  for (const auto& st : m.statements) {
    nlohmann::json s;
    s["rows"] = std::string(source_name(st.source));
    if (!st.name.empty()) s["name"] = st.name;
    s["columns"] = nlohmann::json::array();
    for (const auto& o : st.outputs) {
      s["columns"].push_back({{"name", o.star ? "*" : o.name}, {"taint", std::string(sql::to_string(o.taint))}});
    }
    s["reads_masked"] = st.touches_masked;
    s["filters_on_masked"] = st.filters_on_masked;
    s["writes_masked"] = st.writes_masked;
    if (st.writes_masked) s["write"] = st.write_target;
    j["statements"].push_back(std::move(s));
  }
  return j;
}

}  // namespace pgw::cli
