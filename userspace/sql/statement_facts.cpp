#include "sql/statement_facts.h"

#include <algorithm>
#include <array>
#include <tuple>

namespace pgw::sql {
namespace {

constexpr std::array<std::string_view, kStatementClassCount> kClassNames = {
    "select",     "insert",   "update",  "delete",     "merge",       "copy_to",  "copy_from",
    "truncate",   "ddl",      "create",  "alter",      "drop",        "grant",    "role",
    "set",        "transaction", "procedural", "admin", "prepare",     "execute",  "deallocate",
    "listen",     "notify",   "lock",    "unknown",
};

void append_list(std::string& out, std::string_view item) {
  if (!out.empty()) out += ',';
  out += item;
}

}  // namespace

std::string_view to_string(StatementClass c) {
  auto i = static_cast<std::size_t>(c);
  return i < kClassNames.size() ? kClassNames[i] : "?";
}

std::optional<StatementClass> statement_class_from_string(std::string_view name) {
  for (std::size_t i = 0; i < kClassNames.size(); ++i)
    if (kClassNames[i] == name) return static_cast<StatementClass>(i);
  if (name == "dcl") return StatementClass::grant;
  return std::nullopt;
}

std::vector<StatementClass> ClassSet::list() const {
  std::vector<StatementClass> out;
  for (std::size_t i = 0; i < kStatementClassCount; ++i)
    if (bits_ & (1u << i)) out.push_back(static_cast<StatementClass>(i));
  return out;
}

std::string ClassSet::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

void ClassSet::append_to(std::string& out) const {
  bool first = true;
  for (std::size_t i = 0; i < kStatementClassCount; ++i) {
    if ((bits_ & (1u << i)) == 0) continue;
    if (!first) out += ',';
    out += kClassNames[i];
    first = false;
  }
}

std::string usage_to_string(std::uint8_t usage) {
  static constexpr std::array<std::string_view, 7> kNames = {"read", "write",    "ddl", "lock",
                                                             "truncate", "copy", "admin"};
  std::string out;
  for (std::size_t i = 0; i < kNames.size(); ++i)
    if (usage & (1u << i)) append_list(out, kNames[i]);
  return out;
}

std::string flags_to_string(std::uint32_t flags) {
  static constexpr std::array<std::pair<std::uint32_t, std::string_view>, 11> kNames = {{
      {kCopyProgram, "copy_program"},
      {kCopyFile, "copy_file"},
      {kExplainOnly, "explain_only"},
      {kDynamicSql, "dynamic_sql"},
      {kDoBodyUnknown, "do_body_unknown"},
      {kUnknownSetting, "unknown_setting"},
      {kUnsupportedNode, "unsupported_node"},
      {kEndsTransactionScope, "ends_transaction_scope"},
      {kRunsSqlString, "runs_sql_string"},
      {kTouchesFiles, "touches_files"},
      {kDenylistedFunction, "denylisted_function"},
  }};
  std::string out;
  for (const auto& [bit, name] : kNames)
    if (flags & bit) append_list(out, name);
  return out;
}

std::string_view to_string(FunctionRisk r) {
  switch (r) {
    case FunctionRisk::none: return "none";
    case FunctionRisk::file_access: return "file_access";
    case FunctionRisk::large_object: return "large_object";
    case FunctionRisk::sql_in_string: return "sql_in_string";
    case FunctionRisk::remote_sql: return "remote_sql";
    case FunctionRisk::backend_signal: return "backend_signal";
    case FunctionRisk::server_control: return "server_control";
    case FunctionRisk::replication: return "replication";
  }
  return "?";
}

std::string Relation::qualified() const {
  std::string out;
  if (!catalog.empty()) out += catalog + '.';
  if (!schema.empty()) out += schema + '.';
  return out + name;
}

std::string FunctionRef::qualified() const {
  std::string out;
  if (!catalog.empty()) out += catalog + '.';
  if (!schema.empty()) out += schema + '.';
  return out + name;
}

const Relation* StatementFacts::find_relation(std::string_view schema_name,
                                              std::string_view name) const {
  for (const auto& r : relations)
    if (r.schema == schema_name && r.name == name) return &r;
  return nullptr;
}

const FunctionRef* StatementFacts::find_function(std::string_view name) const {
  for (const auto& f : functions)
    if (f.name == name) return &f;
  return nullptr;
}

namespace {

template <typename T, typename Key, typename Merge>
void sort_unique(std::vector<T>& items, Key key, Merge merge) {
  std::sort(items.begin(), items.end(), [&](const T& a, const T& b) { return key(a) < key(b); });
  std::size_t out = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (out > 0 && key(items[out - 1]) == key(items[i])) {
      merge(items[out - 1], items[i]);
    } else {
      if (out != i) items[out] = std::move(items[i]);
      ++out;
    }
  }
  items.resize(out);
}

void sort_unique_strings(std::vector<std::string>& items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
}

template <typename T>
void append(std::vector<T>& into, const std::vector<T>& from) {
  into.insert(into.end(), from.begin(), from.end());
}

}  // namespace

void sort_and_merge(StatementFacts& f) {
  sort_unique(
      f.relations, [](const Relation& r) { return std::tie(r.catalog, r.schema, r.name); },
      [](Relation& into, const Relation& from) { into.usage |= from.usage; });
  sort_unique(
      f.schemas, [](const SchemaRef& s) { return std::tie(s.name); },
      [](SchemaRef& into, const SchemaRef& from) { into.usage |= from.usage; });
  sort_unique(
      f.functions, [](const FunctionRef& fn) { return std::tie(fn.catalog, fn.schema, fn.name); },
      [](FunctionRef& into, const FunctionRef& from) { into.maybe_field = into.maybe_field && from.maybe_field; });
  for (auto* names :
       {&f.prepares, &f.executes, &f.deallocates, &f.fetches, &f.closes, &f.listens, &f.unlistens, &f.notifies})
    sort_unique_strings(*names);
}

void add_prepared_facts(StatementFacts& execute, const StatementFacts& prepared) {
  ClassSet classes = prepared.classes;
  classes.remove(StatementClass::prepare);
  execute.classes.add(classes);
  execute.flags |= prepared.flags;
  append(execute.relations, prepared.relations);
  append(execute.schemas, prepared.schemas);
  append(execute.functions, prepared.functions);
  append(execute.settings, prepared.settings);
  append(execute.notifies, prepared.notifies);
  execute.notify_unknown_channel |= prepared.notify_unknown_channel;
  sort_and_merge(execute);
}

std::string to_string(const StatementFacts& f) {
  std::string out = "classes=" + f.classes.to_string();
  auto list = [&out](std::string_view label, const std::vector<std::string>& items) {
    if (items.empty()) return;
    out += ' ';
    out += label;
    out += '=';
    for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  };
  std::vector<std::string> items;
  for (const auto& r : f.relations) items.push_back(r.qualified() + "(" + usage_to_string(r.usage) + ")");
  list("relations", items);
  items.clear();
  for (const auto& s : f.schemas) items.push_back(s.name + ".*(" + usage_to_string(s.usage) + ")");
  list("schemas", items);
  items.clear();
  for (const auto& fn : f.functions)
    items.push_back(fn.qualified() + (fn.maybe_field ? "[field?]" : "") +
                    (fn.risk == FunctionRisk::none ? "" : "[" + std::string(to_string(fn.risk)) + "]"));
  list("functions", items);
  items.clear();
  for (const auto& s : f.settings) {
    std::string item = s.name_known ? (s.name.empty() ? "ALL" : s.name) : "?";
    if (s.action == SettingAction::reset || s.action == SettingAction::reset_all)
      item = "reset " + item;
    else if (!s.value_known)
      item += "=?";
    else {
      item += '=';
      for (std::size_t i = 0; i < s.values.size(); ++i) item += (i ? "|" : "") + s.values[i];
    }
    if (s.is_local) item += "(local)";
    items.push_back(item);
  }
  list("settings", items);
  list("prepare", f.prepares);
  list("execute", f.executes);
  list("deallocate", f.deallocates);
  items.clear();
  for (const auto& d : f.declares) items.push_back(d.name + (d.holdable ? "(hold)" : ""));
  list("declare", items);
  list("fetch", f.fetches);
  list("close", f.closes);
  list("listen", f.listens);
  list("unlisten", f.unlistens);
  list("notify", f.notifies);
  if (f.deallocate_all) out += " deallocate_all";
  if (f.close_all) out += " close_all";
  if (f.unlisten_all) out += " unlisten_all";
  if (f.notify_unknown_channel) out += " notify_unknown_channel";
  if (f.flags) out += " flags=" + flags_to_string(f.flags);
  return out;
}

}  // namespace pgw::sql
