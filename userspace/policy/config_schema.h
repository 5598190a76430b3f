// How the config file's keys are declared and walked (internal to the
// loader; the table itself is config_keys.cpp).
//
// pgbouncer declares each setting once, in one line of a table that names
// its type, where it goes and its default (the CF_ABS table of its
// src/main.c), and one walker reads the file against the table. pgwarden's
// file is nested, so its table is one Section per mapping:
//
//   constexpr Key<Upstream> kUpstreamKeys[] = {
//       {"connect_timeout", duration<&Upstream::connect_timeout, 1>, "5s", "How long ..."},
//       {"ca_file", not_yet<Upstream>("path"), "", "The CA ..."},
//   };
//
// A Key is a name, a Value (what the key holds: its type for the reference
// and the function that reads and checks it into the record), the default
// as the file would write it, the sentence the reference shows, and, for
// the few keys a reload cannot change, how to tell that they changed. A
// Value without a reader is part of the file format but not implemented:
// the walk refuses it with "not supported yet". Nested mappings and lists
// of mappings are Values too (section, records), so the walk and the
// reference recurse through one structure.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "policy/config_keys.h"
#include "policy/config_reader.h"

namespace pgw::policy::schema {

template <typename Record>
using ReadFn = void (*)(ConfigReader& r, const YAML::Node& value, const std::string& path, Record& out);
// Appends the keys of a nested section (or of each element of a list of
// sections) under `prefix`.
using ListFn = void (*)(const std::string& prefix, bool restart, std::vector<KeyDoc>& out);
template <typename Record>
using SameFn = bool (*)(const Record& running, const Record& loaded);

enum class Need : uint8_t { optional, required };

template <typename Record>
struct Value {
  std::string_view type;                  // as the reference names it
  ReadFn<Record> read = nullptr;          // nullptr: not supported yet
  ListFn nested = nullptr;                // a section or a list of sections
  Need need = Need::optional;
  std::string (*type_text)() = nullptr;   // a type computed from data (a choice's words)
};

template <typename Record>
struct Key {
  std::string_view name;
  Value<Record> value;
  // The default as the file would write it ("30s", "[5432]"); checked
  // against the record's own default by reading it with `value`. "(...)"
  // describes a default that is not a value; "" means unset.
  std::string_view fallback;
  std::string_view doc;
  // Set for keys a reload cannot change: compares the running and the
  // reloaded value.
  SameFn<Record> restart = nullptr;
};

template <typename Record>
struct Section {
  using record_type = Record;
  std::span<const Key<Record>> keys;
  // Checks across the keys of one record, after every key is read.
  ReadFn<Record> check = nullptr;
};

// The record of a section that has none yet: every key in it is
// not_yet(), so nothing is ever stored.
struct Unsupported {
  friend bool operator==(const Unsupported&, const Unsupported&) = default;
};

// "unknown key "x"; did you mean "y"?" or the known keys.
std::string unknown_key_message(std::string_view key, std::span<const std::string_view> known);

// ---- the walk -------------------------------------------------------------

template <typename Record>
void walk(ConfigReader& r, const YAML::Node& n, const std::string& path, const Section<Record>& s, Record& out) {
  if (!n.IsMap()) {
    r.error(n, path, "expected a mapping (key: value), got " + describe_kind(n));
    return;
  }
  std::vector<std::string_view> names;
  for (const Key<Record>& k : s.keys) names.push_back(k.name);
  struct Given {
    const Key<Record>* key;
    YAML::Node key_node, value;
  };
  std::vector<Given> given;
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!r.spend()) break;
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      r.error(k, path, "expected a key name, got " + describe_kind(k));
      continue;
    }
    const std::string& name = k.Scalar();
    const std::string p = child_path(path, name);
    const Key<Record>* key = nullptr;
    for (const Key<Record>& candidate : s.keys) {
      if (candidate.name == name) key = &candidate;
    }
    if (key == nullptr) {
      r.error(k, p, unknown_key_message(name, names));
      continue;
    }
    const auto first = std::find_if(given.begin(), given.end(), [&](const Given& g) { return g.key == key; });
    if (first != given.end()) {
      r.error(k, p, "duplicate key (first at line " + std::to_string(first->key_node.Mark().line + 1) + ")");
      continue;
    }
    r.remember(p, it->second);
    given.push_back({key, k, it->second});
  }
  for (const Key<Record>& key : s.keys) {
    const std::string p = child_path(path, key.name);
    const auto g = std::find_if(given.begin(), given.end(), [&](const Given& x) { return x.key == &key; });
    if (g == given.end()) {
      if (key.value.need == Need::required) r.error(n, p, "required key is missing");
    } else if (key.value.read == nullptr) {
      r.error(g->key_node, p, "not supported yet");
    } else {
      key.value.read(r, g->value, p, out);
    }
  }
  if (s.check != nullptr) s.check(r, n, path, out);
}

// ---- the reference --------------------------------------------------------

// Reads the documented default with the key's own reader into a fresh
// record: a default is right when that changes nothing.
template <typename Record>
std::string default_mismatch(const Key<Record>& key, const std::string& path) {
  if (key.fallback.empty() || key.fallback.front() == '(' || key.value.read == nullptr ||
      key.value.nested != nullptr || key.value.need == Need::required) {
    return {};
  }
  const Record untouched{};
  Record read{};
  ConfigReader scratch("(default of " + path + ")", "");
  try {
    key.value.read(scratch, YAML::Load(std::string(key.fallback)), path, read);
  } catch (const YAML::Exception& e) {
    return "the documented default does not parse: " + e.msg;
  }
  if (scratch.failed()) return scratch.report();
  if (!(read == untouched)) return "the documented default is not the default the loader gives";
  return {};
}

template <typename Record>
void describe(const Section<Record>& s, const std::string& prefix, bool restart, std::vector<KeyDoc>& out) {
  for (const Key<Record>& key : s.keys) {
    KeyDoc d;
    d.path = prefix.empty() ? std::string(key.name) : child_path(prefix, key.name);
    d.type = key.value.type_text != nullptr ? key.value.type_text() : std::string(key.value.type);
    d.fallback = key.value.need == Need::required ? std::string("required") : std::string(key.fallback);
    d.doc = key.doc;
    d.supported = key.value.read != nullptr;
    d.restart = restart || key.restart != nullptr;
    d.default_mismatch = default_mismatch(key, d.path);
    const std::string path = d.path;
    const bool nested_restart = d.restart;
    out.push_back(std::move(d));
    if (key.value.nested != nullptr) key.value.nested(path, nested_restart, out);
  }
}

// ---- what a key holds ----------------------------------------------------

template <auto Member>
struct MemberTraits;
template <typename R, typename T, T R::*Member>
struct MemberTraits<Member> {
  using record = R;
  using type = T;
};
template <auto Member>
using RecordOf = typename MemberTraits<Member>::record;
template <auto Member>
using TypeOf = typename MemberTraits<Member>::type;

// Any key read by a function of its own.
template <typename Record>
constexpr Value<Record> custom(std::string_view type, ReadFn<Record> read) {
  return Value<Record>{type, read};
}

// A key of the file format that this version does not implement.
template <typename Record>
constexpr Value<Record> not_yet(std::string_view type) {
  return Value<Record>{type, nullptr};
}

template <typename Record>
constexpr Value<Record> required(Value<Record> v) {
  v.need = Need::required;
  return v;
}

template <auto Member>
bool same_member(const RecordOf<Member>& a, const RecordOf<Member>& b) {
  return a.*Member == b.*Member;
}
// For Key::restart: the key is Member, and a reload cannot change it.
template <auto Member>
inline constexpr SameFn<RecordOf<Member>> restart = &same_member<Member>;

template <auto Member>
void read_boolean(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  if (auto v = r.boolean(n, p)) out.*Member = *v;
}
template <auto Member>
inline constexpr Value<RecordOf<Member>> boolean{"boolean", &read_boolean<Member>};

template <auto Member, uint64_t Min, uint64_t Max>
void read_integer(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  if (auto v = r.integer(n, p, Min, Max)) out.*Member = static_cast<TypeOf<Member>>(*v);
}
template <auto Member, uint64_t Min, uint64_t Max>
inline constexpr Value<RecordOf<Member>> integer{"integer", &read_integer<Member, Min, Max>};

// "1500ms" or "30s", as a bound reads best.
std::string format_ms(int64_t ms);

template <auto Member, int64_t MinMs, int64_t MaxMs>
void read_duration(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  auto d = r.duration(n, p);
  if (!d) return;
  if (d->count() < MinMs) {
    r.error(n, p, MinMs == 1 ? std::string("must be longer than 0") : "must be at least " + format_ms(MinMs));
  } else if (d->count() > MaxMs) {
    r.error(n, p, "must be at most " + format_ms(MaxMs));
  } else {
    out.*Member = *d;
  }
}
// parse_duration already refuses more than a week.
inline constexpr int64_t kWeekMs = 7ll * 24 * 3'600'000;
template <auto Member, int64_t MinMs = 0, int64_t MaxMs = kWeekMs>
inline constexpr Value<RecordOf<Member>> duration{"duration", &read_duration<Member, MinMs, MaxMs>};

template <auto Member>
void read_address(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  if (auto v = r.address(n, p)) out.*Member = *v;
}
template <auto Member>
inline constexpr Value<RecordOf<Member>> address{"address", &read_address<Member>};

template <auto Member>
void read_name(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  if (auto v = r.name(n, p)) out.*Member = *v;
}
template <auto Member>
inline constexpr Value<RecordOf<Member>> name{"name", &read_name<Member>};

template <auto Member>
void read_socket_path(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  if (auto v = r.socket_path(n, p)) out.*Member = *v;
}
template <auto Member>
inline constexpr Value<RecordOf<Member>> socket_path{"path", &read_socket_path<Member>};

// One word of a fixed set: `Choices` is a constexpr array of Choice<T>.
template <auto Member, const auto& Choices>
void read_choice(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  if (auto v = r.choice(n, p, Choices)) out.*Member = *v;
}
template <const auto& Choices>
std::string choice_words() {
  std::string out;
  for (const auto& c : Choices) {
    if (!out.empty()) out += " | ";
    out += '`';
    out += c.word;
    out += '`';
  }
  return out;
}
template <auto Member, const auto& Choices>
inline constexpr Value<RecordOf<Member>> choice{"choice", &read_choice<Member, Choices>, nullptr, Need::optional,
                                                &choice_words<Choices>};

// A nested mapping read into the member `Member` with section `S`.
template <auto Member, const auto& S>
void read_section(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  walk(r, n, p, S, out.*Member);
}
template <const auto& S>
void list_section(const std::string& prefix, bool restart, std::vector<KeyDoc>& out) {
  describe(S, prefix, restart, out);
}
template <auto Member, const auto& S>
inline constexpr Value<RecordOf<Member>> section{"mapping", &read_section<Member, S>, &list_section<S>};

// A nested mapping whose keys belong to the record that holds it.
template <const auto& S>
void read_inline_section(ConfigReader& r, const YAML::Node& n, const std::string& p,
                         typename std::remove_cvref_t<decltype(S)>::record_type& out) {
  walk(r, n, p, S, out);
}
template <const auto& S>
inline constexpr Value<typename std::remove_cvref_t<decltype(S)>::record_type> inline_section{
    "mapping", &read_inline_section<S>, &list_section<S>};

// A nested mapping of keys that are all not_yet(): read only to refuse
// each key it holds by name.
template <typename Parent, const auto& S>
void read_future_section(ConfigReader& r, const YAML::Node& n, const std::string& p, Parent&) {
  Unsupported nothing;
  walk(r, n, p, S, nothing);
}
template <typename Parent, const auto& S>
inline constexpr Value<Parent> future_section{"mapping", &read_future_section<Parent, S>, &list_section<S>};

// A list of mappings, each read into a new element of the vector `Member`.
template <auto Member, const auto& S>
void read_records(ConfigReader& r, const YAML::Node& n, const std::string& p, RecordOf<Member>& out) {
  r.for_each(n, p, false, [&](const YAML::Node& e, const std::string& ep) {
    typename TypeOf<Member>::value_type element{};
    walk(r, e, ep, S, element);
    (out.*Member).push_back(std::move(element));
  });
}
template <const auto& S>
void list_records(const std::string& prefix, bool restart, std::vector<KeyDoc>& out) {
  describe(S, prefix + "[]", restart, out);
}
template <auto Member, const auto& S>
inline constexpr Value<RecordOf<Member>> records{"list of mappings", &read_records<Member, S>, &list_records<S>};

}  // namespace pgw::policy::schema
