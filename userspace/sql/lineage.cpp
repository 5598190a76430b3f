// The C++ face of the lineage tracer (raw/raw_lineage.c).
#include "sql/lineage.h"

#include <cstring>
#include <string>

#include "raw/raw_lineage.h"

namespace pgw::sql {

namespace {

constexpr std::size_t kMaxNodes = 4'000'000;

Taint from_c(int taint) {
  switch (taint) {
    case PGW_TAINT_TAINTED:
      return Taint::tainted;
    case PGW_TAINT_UNTRACEABLE:
      return Taint::untraceable;
    default:
      return Taint::clean;
  }
}

int to_c(Taint taint) {
  switch (taint) {
    case Taint::tainted:
      return PGW_TAINT_TAINTED;
    case Taint::untraceable:
      return PGW_TAINT_UNTRACEABLE;
    case Taint::clean:
      break;
  }
  return PGW_TAINT_CLEAN;
}

std::string str(const char* s) { return s != nullptr ? std::string(s) : std::string(); }

// The oracle's answers cross the C boundary through these; exceptions must
// not (a std::bad_alloc would unwind through PostgreSQL's longjmp frames).
bool relation_is_masked(void* ctx, const char* schema, const char* name) noexcept {
  try {
    return static_cast<const TaintOracle*>(ctx)->relation_is_masked(schema, name);
  } catch (...) {
    return true;
  }
}

bool column_is_masked(void* ctx, const char* column) noexcept {
  try {
    return static_cast<const TaintOracle*>(ctx)->column_is_masked(column);
  } catch (...) {
    return true;
  }
}

int function_taint(void* ctx, const char* schema, const char* name) noexcept {
  try {
    return to_c(static_cast<const TaintOracle*>(ctx)->function_taint(schema, name));
  } catch (...) {
    return PGW_TAINT_TAINTED;
  }
}

int field_call_taint(void* ctx, const char* name) noexcept {
  try {
    return to_c(static_cast<const TaintOracle*>(ctx)->field_call_taint(name));
  } catch (...) {
    return PGW_TAINT_TAINTED;
  }
}

bool takes_a_row(void* ctx, const char* name) noexcept {
  try {
    return static_cast<const TaintOracle*>(ctx)->takes_a_row(name);
  } catch (...) {
    return true;
  }
}

struct Collector {
  std::vector<StatementLineage> statements;
  bool failed = false;
};

void on_statement(void* ctx, const pgw_statement_lineage* st) noexcept {
  auto* c = static_cast<Collector*>(ctx);
  try {
    StatementLineage out;
    out.source = static_cast<RowSource>(st->source);
    out.outputs.reserve(st->n_outputs);
    for (std::size_t i = 0; i < st->n_outputs; ++i) {
      out.outputs.push_back({str(st->outputs[i].name), st->outputs[i].star, from_c(st->outputs[i].taint),
                             str(st->outputs[i].plain_column)});
    }
    out.name = str(st->name);
    out.copy_schema = str(st->copy_schema);
    out.copy_table = str(st->copy_table);
    out.copy_binary = st->copy_binary;
    out.copy_csv = st->copy_csv;
    out.copy_header = st->copy_header;
    out.copy_delimiter = st->copy_delimiter;
    out.copy_quote = st->copy_quote;
    out.copy_escape = st->copy_escape;
    out.copy_null_set = st->copy_null != nullptr;
    out.copy_null = str(st->copy_null);
    out.copy_encoding_set = st->copy_encoding != nullptr;
    out.copy_encoding = str(st->copy_encoding);
    out.copy_options_error = str(st->copy_options_error);
    out.taint_other = from_c(st->taint_other);
    out.touches_masked = st->touches_masked;
    out.filters_on_masked = st->filters_on_masked;
    out.writes_masked = st->writes_masked;
    out.write_target = str(st->write_target);
    c->statements.push_back(std::move(out));
  } catch (...) {
    c->failed = true;
  }
}

}  // namespace

Taint worst(Taint a, Taint b) { return from_c(std::max(to_c(a), to_c(b))); }

std::string_view to_string(Taint t) {
  switch (t) {
    case Taint::clean:
      return "clean";
    case Taint::tainted:
      return "tainted";
    case Taint::untraceable:
      return "untraceable";
  }
  return "?";
}

Result<std::vector<StatementLineage>> trace_lineage(const ParsedSql& parsed, const TaintOracle& oracle) {
  if (!parsed.ok()) return Error{parsed.error_message().empty() ? std::string("not parsed") : parsed.error_message()};
  pgw_lineage_oracle c_oracle{const_cast<TaintOracle*>(&oracle), relation_is_masked, column_is_masked,
                              function_taint, field_call_taint, takes_a_row};
  Collector collector;
  pgw_raw_error error{};
  const int status = pgw_raw_lineage_parsed(parsed.tree(), kMaxNodes, &c_oracle, on_statement, &collector, &error);
  if (status != PGW_RAW_OK) {
    return Error{error.message[0] != '\0' ? std::string(error.message) : std::string("lineage tracer failed")};
  }
  if (collector.failed) return Error{"out of memory while tracing lineage"};
  return std::move(collector.statements);
}

Result<std::vector<StatementLineage>> trace_lineage(std::string_view sql, const TaintOracle& oracle,
                                                    bool standard_conforming_strings) {
  ParseOptions options;
  options.standard_conforming_strings = standard_conforming_strings;
  return trace_lineage(ParsedSql::parse(sql, options), oracle);
}

}  // namespace pgw::sql
