#include "mask/field_masker.h"

#include <vector>

#include "mask/detect_mask.h"
#include "mask/value_detect.h"

namespace pgw::mask::detail {
namespace {

// jsonb's binary send format: one version byte, then the JSON text.
constexpr char kJsonbVersion = 1;

void append_json_string(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

// A JSON document that is one string without escapes, e.g. "123-45-6789":
// its content, so that partial or email see the value and not the quotes.
std::string_view plain_json_string(std::string_view json_text) {
  const size_t b = json_text.find_first_not_of(" \t\r\n");
  const size_t e = json_text.find_last_not_of(" \t\r\n");
  if (b == std::string_view::npos || e <= b || json_text[b] != '"' || json_text[e] != '"') return {};
  const std::string_view inner = json_text.substr(b + 1, e - b - 1);
  if (inner.find_first_of("\"\\") != std::string_view::npos) return {};
  return inner;
}

// rule.function(value) appended to `out`, with what it kept of the value
// scanned by the rule's detectors (row_plan.h). False: the field is NULL
// (the function is null, or a hit was found and the hit function is null:
// a piece of a value cannot be NULL).
bool apply_column_function(const ColumnRule& rule, std::string_view value, std::string& out) {
  if (rule.detectors.empty()) return rule.function.apply_into(value, out);
  thread_local std::string masked;
  thread_local std::vector<Span> hits;
  masked.clear();
  if (!rule.function.apply_into(value, masked)) return false;
  rule.detectors.scan(masked, hits);
  if (hits.empty()) {
    out.append(masked);
    return true;
  }
  if (rule.kept_hit_function.kind() == MaskFunction::Kind::null) return false;
  append_masked(masked, hits, rule.detectors, rule.kept_hit_function, TextKind::plain, out);
  return true;
}

// The whole JSON value becomes a JSON string holding fn(value), or
// fn(content) when the value is itself a plain JSON string.
FieldOutcome mask_json_whole(const ColumnRule& rule, std::string_view json_text, std::string& out) {
  thread_local std::string masked;
  masked.clear();
  const std::string_view inner = plain_json_string(json_text);
  const std::string_view subject = inner.data() != nullptr ? inner : json_text;
  if (!apply_column_function(rule, subject, masked)) return FieldOutcome::null;
  append_json_string(masked, out);
  return FieldOutcome::replaced;
}

// How a whole value is masked follows its type (type_shapes.h): values whose
// text (and binary form) is the string itself are masked in place; json and
// jsonb become a JSON string (binary jsonb keeps its version byte), so
// json-parsing clients still parse them; any other type's masked value is
// NULL, since '***' in an int8 column would break every client's parser.
FieldOutcome mask_whole(const ColumnRule& rule, std::string_view value, bool binary, std::string& out) {
  switch (rule.shape.shape) {
    case Shape::text:
    case Shape::untyped: {  // a COPY column of a query: its text
      const size_t mark = out.size();
      if (apply_column_function(rule, value, out)) return FieldOutcome::replaced;
      out.resize(mark);
      return FieldOutcome::null;
    }
    case Shape::json:
      return mask_json_whole(rule, value, out);
    case Shape::jsonb:
      if (!binary) return mask_json_whole(rule, value, out);
      if (value.empty() || value[0] != kJsonbVersion) return FieldOutcome::null;
      {
        const size_t mark = out.size();
        out.push_back(kJsonbVersion);
        const FieldOutcome r = mask_json_whole(rule, value.substr(1), out);
        if (r != FieldOutcome::replaced) out.resize(mark);
        return r;
      }
    case Shape::hit_free:
    case Shape::bytea:
    case Shape::array:
    case Shape::record:
    case Shape::scalar:
      return FieldOutcome::null;
  }
  return FieldOutcome::null;
}

}  // namespace

FieldOutcome mask_field(const ColumnRule& rule, std::string_view value, bool binary, std::string& out) {
  switch (rule.action) {
    case ColumnAction::pass:
      return FieldOutcome::keep;
    case ColumnAction::to_null:
      return FieldOutcome::null;
    case ColumnAction::mask:
      return mask_whole(rule, value, binary, out);
    case ColumnAction::detect:
      if (rule.detectors.empty()) return FieldOutcome::keep;
      return detect_in_value(rule, value, binary, out);
  }
  return FieldOutcome::null;
}

}  // namespace pgw::mask::detail
