#include "sql/analyze.h"

#include <algorithm>
#include <new>

#include "sql/function_denylist.h"
#include "sql/identifier_list.h"
#include "sql/raw/raw_facts.h"

namespace pgw::sql {
namespace {

static_assert(static_cast<int>(StatementClass::unknown) == PGW_CLASS_UNKNOWN);
static_assert(kStatementClassCount == PGW_CLASS_COUNT);
constexpr bool same(unsigned a, unsigned b) { return a == b; }
static_assert(same(kRead, PGW_USE_READ) && same(kWrite, PGW_USE_WRITE) && same(kDdl, PGW_USE_DDL) &&
              same(kLock, PGW_USE_LOCK) && same(kTruncate, PGW_USE_TRUNCATE) &&
              same(kCopy, PGW_USE_COPY) && same(kAdmin, PGW_USE_ADMIN));
static_assert(same(kCopyProgram, PGW_FLAG_COPY_PROGRAM) && same(kCopyFile, PGW_FLAG_COPY_FILE) &&
              same(kExplainOnly, PGW_FLAG_EXPLAIN_ONLY) && same(kDynamicSql, PGW_FLAG_DYNAMIC_SQL) &&
              same(kDoBodyUnknown, PGW_FLAG_DO_BODY_UNKNOWN) &&
              same(kUnknownSetting, PGW_FLAG_UNKNOWN_SETTING) &&
              same(kUnsupportedNode, PGW_FLAG_UNSUPPORTED_NODE) &&
              same(kEndsTransactionScope, PGW_FLAG_ENDS_TRANSACTION_SCOPE));
static_assert(same(static_cast<unsigned>(SettingAction::reset_all), PGW_SETTING_RESET_ALL) &&
              same(static_cast<unsigned>(SettingAction::from_current), PGW_SETTING_FROM_CURRENT));

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

// Builds StatementFacts from the C walker's callbacks. The callbacks run
// between C frames that use setjmp/longjmp, so no exception may leave them:
// an allocation failure is recorded and reported once the walk is over.
struct Builder {
  std::vector<StatementFacts> statements;
  bool failed = false;

  StatementFacts* current() { return statements.empty() ? nullptr : &statements.back(); }

  template <typename F>
  static void guarded(void* ctx, F&& f) noexcept {
    auto* self = static_cast<Builder*>(ctx);
    if (self->failed) return;
    try {
      if (self->current()) f(*self);
    } catch (...) {
      self->failed = true;
    }
  }

  static void on_statement(void* ctx, int location, int length) noexcept {
    auto* self = static_cast<Builder*>(ctx);
    try {
      StatementFacts facts;
      facts.location = static_cast<std::size_t>(location < 0 ? 0 : location);
      facts.length = static_cast<std::size_t>(length < 0 ? 0 : length);
      self->statements.push_back(std::move(facts));
    } catch (...) {
      self->failed = true;
    }
  }
  static void on_classes(void* ctx, std::uint32_t bits) noexcept {
    guarded(ctx, [&](Builder& b) { b.current()->classes.add(ClassSet(bits)); });
  }
  static void on_flags(void* ctx, std::uint32_t flags) noexcept {
    guarded(ctx, [&](Builder& b) { b.current()->flags |= flags; });
  }
  static void on_relation(void* ctx, const char* catalog, const char* schema, const char* name,
                          std::uint32_t usage) noexcept {
    guarded(ctx, [&](Builder& b) {
      b.current()->relations.push_back(
          Relation{str(catalog), str(schema), str(name), static_cast<std::uint8_t>(usage)});
    });
  }
  static void on_relation_text(void* ctx, const char* text, std::uint32_t usage) noexcept {
    guarded(ctx, [&](Builder& b) {
      if (auto name = parse_relation_text(str(text)))
        b.current()->relations.push_back(Relation{std::move(name->catalog), std::move(name->schema),
                                                  std::move(name->name), static_cast<std::uint8_t>(usage)});
    });
  }
  static void on_schema(void* ctx, const char* name, std::uint32_t usage) noexcept {
    guarded(ctx, [&](Builder& b) {
      b.current()->schemas.push_back(SchemaRef{str(name), static_cast<std::uint8_t>(usage)});
    });
  }
  static void on_function(void* ctx, const char* catalog, const char* schema, const char* name,
                          int as_field) noexcept {
    guarded(ctx, [&](Builder& b) {
      b.current()->functions.push_back(
          FunctionRef{str(catalog), str(schema), str(name), builtin_function_risk(str(name)), as_field != 0});
    });
  }
  static void on_setting(void* ctx, const pgw_raw_setting* raw) noexcept {
    guarded(ctx, [&](Builder& b) {
      Setting s;
      s.name = str(raw->name);
      s.action = static_cast<SettingAction>(raw->action);
      s.name_known = raw->name != nullptr || s.action == SettingAction::reset_all;
      s.is_local = raw->is_local != 0;
      s.via_function = raw->via_function != 0;
      s.may_not_run = raw->may_not_run != 0;
      s.value_known = raw->value_known != 0;
      for (std::size_t i = 0; i < raw->n_values; ++i) s.values.push_back(str(raw->values[i]));
      b.current()->settings.push_back(std::move(s));
    });
  }
  static void on_name(void* ctx, int kind, const char* name) noexcept {
    guarded(ctx, [&](Builder& b) {
      StatementFacts& f = *b.current();
      switch (kind) {
        case PGW_NAME_PREPARE: f.prepares.push_back(str(name)); break;
        case PGW_NAME_EXECUTE: f.executes.push_back(str(name)); break;
        case PGW_NAME_DEALLOCATE:
          if (name) f.deallocates.push_back(name); else f.deallocate_all = true;
          break;
        case PGW_NAME_LISTEN: f.listens.push_back(str(name)); break;
        case PGW_NAME_UNLISTEN:
          if (name) f.unlistens.push_back(name); else f.unlisten_all = true;
          break;
        case PGW_NAME_NOTIFY:
          if (name) f.notifies.push_back(name); else f.notify_unknown_channel = true;
          break;
        case PGW_NAME_DECLARE:
        case PGW_NAME_DECLARE_HOLD:
          f.declares.push_back({str(name), kind == PGW_NAME_DECLARE_HOLD});
          break;
        case PGW_NAME_FETCH: f.fetches.push_back(str(name)); break;
        case PGW_NAME_CLOSE:
          if (name) f.closes.push_back(name); else f.close_all = true;
          break;
        default: break;
      }
    });
  }
};

void finish(StatementFacts& f, std::size_t input_size) {
  if (f.length == 0 && f.location <= input_size) f.length = input_size - f.location;
  sort_and_merge(f);

  for (const auto& fn : f.functions) {
    switch (fn.risk) {
      case FunctionRisk::none: continue;
      case FunctionRisk::sql_in_string:
      case FunctionRisk::remote_sql: f.flags |= kRunsSqlString; break;
      case FunctionRisk::file_access: f.flags |= kTouchesFiles; break;
      default: break;
    }
    f.flags |= kDenylistedFunction;
  }
  if (f.flags & kDynamicSql) f.flags |= kRunsSqlString;
  if (f.flags & (kCopyFile | kCopyProgram)) f.flags |= kTouchesFiles;
}

Analysis fail(AnalyzeError error, std::string message, int position = 0) {
  Analysis a;
  a.error = error;
  a.error_message = std::move(message);
  a.error_position = position;
  return a;
}

}  // namespace

ClassSet Analysis::classes() const {
  ClassSet all;
  for (const auto& s : statements) all.add(s.classes);
  return all;
}

Analysis analyze(const ParsedSql& parsed, const AnalyzeOptions& options) noexcept {
  try {
    if (!parsed.ok()) return fail(parsed.error(), parsed.error_message(), parsed.error_position());
    const pgw_raw_options raw_options{
        options.max_nodes,
        options.analyze_do_bodies ? 1 : 0,
        std::clamp(options.max_do_depth, 0, 255),  // nesting is counted in a byte
    };
    Builder builder;
    const pgw_raw_sink sink{
        &builder,          &Builder::on_statement, &Builder::on_classes,
        &Builder::on_flags, &Builder::on_relation, &Builder::on_relation_text,
        &Builder::on_schema, &Builder::on_function, &Builder::on_setting, &Builder::on_name,
    };
    pgw_raw_error raw_error;
    int status = pgw_raw_analyze_parsed(parsed.tree(), &raw_options, &sink, &raw_error);

    switch (status) {
      case PGW_RAW_OK: break;
      case PGW_RAW_SYNTAX_ERROR:
        return fail(AnalyzeError::syntax, raw_error.message, raw_error.cursor_pos);
      case PGW_RAW_TOO_COMPLEX: return fail(AnalyzeError::too_complex, raw_error.message);
      default: return fail(AnalyzeError::internal, raw_error.message);
    }
    if (builder.failed) return fail(AnalyzeError::internal, "out of memory while analyzing");
    for (auto& facts : builder.statements) finish(facts, parsed.text().size());
    Analysis analysis;
    analysis.statements = std::move(builder.statements);
    return analysis;
  } catch (...) {
    Analysis a;
    a.error = AnalyzeError::internal;
    return a;
  }
}

Analysis analyze(std::string_view sql, const AnalyzeOptions& options) noexcept {
  return analyze(ParsedSql::parse(sql, {options.max_input_bytes, options.standard_conforming_strings}), options);
}

Status self_check() {
  auto a = analyze("SELECT f(x) FROM s.t WHERE y > 0; DELETE FROM u WHERE z IN (SELECT 1)");
  if (!a.ok()) return make_error("sql self-check: parse failed: " + a.error_message);
  if (a.statements.size() != 2) return make_error("sql self-check: expected 2 statements");
  const auto& select = a.statements[0];
  const auto& del = a.statements[1];
  if (select.classes != ClassSet{StatementClass::select} || select.relations.size() != 1 ||
      select.relations[0].schema != "s" || select.relations[0].name != "t" ||
      select.relations[0].usage != kRead || select.functions.size() != 1 ||
      select.functions[0].name != "f")
    return make_error("sql self-check: SELECT facts wrong: parser and node headers disagree");
  if (del.classes != ClassSet{StatementClass::delete_, StatementClass::select} ||
      del.relations.size() != 1 || del.relations[0].name != "u" ||
      !(del.relations[0].usage & kWrite))
    return make_error("sql self-check: DELETE facts wrong: parser and node headers disagree");
  return ok_status();
}

}  // namespace pgw::sql
