// Helpers shared by the sql tests: canonical one-line forms of analysis
// results, so that expectations read like the SQL they describe.
#pragma once

#include <algorithm>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sql/analyze.h"

namespace pgw::sql::test {

inline std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in{std::string(text)};
  while (std::getline(in, item, sep)) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

inline std::string join_sorted(std::vector<std::string> items) {
  std::sort(items.begin(), items.end());
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : " ") + i;
  return out;
}

// "select,delete | update": the classes of each statement, in order.
inline std::string classes_of(const Analysis& a) {
  std::string out;
  for (const auto& s : a.statements) out += (out.empty() ? "" : " | ") + s.classes.to_string();
  return out;
}

// Normalizes an expectation written in any class order.
inline std::string canonical_classes(std::string_view expected) {
  std::string out;
  for (const auto& statement : split(expected, '|')) {
    ClassSet set;
    for (const auto& name : split(statement, ',')) {
      auto c = statement_class_from_string(name);
      if (!c) return "bad class name in expectation: " + name;
      set.add(*c);
    }
    out += (out.empty() ? "" : " | ") + set.to_string();
  }
  return out;
}

// "hr.salaries:read,write t:read hr.*:ddl" over all statements (schemas as NAME.*).
inline std::string relations_of(const Analysis& a) {
  std::vector<std::string> items;
  for (const auto& s : a.statements) {
    for (const auto& r : s.relations) items.push_back(r.qualified() + ":" + usage_to_string(r.usage));
    for (const auto& sc : s.schemas) items.push_back(sc.name + ".*:" + usage_to_string(sc.usage));
  }
  return join_sorted(items);
}

// "count lower id?": the functions called, and with "?" the names written as
// x.f or (x).f, which call f(x) when x has no column or field f.
inline std::string functions_of(const Analysis& a) {
  std::vector<std::string> items;
  for (const auto& s : a.statements)
    for (const auto& f : s.functions) items.push_back(f.qualified() + (f.maybe_field ? "?" : ""));
  return join_sorted(items);
}

inline std::uint32_t flags_of(const Analysis& a) {
  std::uint32_t flags = 0;
  for (const auto& s : a.statements) flags |= s.flags;
  return flags;
}

}  // namespace pgw::sql::test
