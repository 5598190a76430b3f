#include "mask/field_masker.h"

#include <vector>

#include "mask/detect_mask.h"

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

// The whole JSON value becomes a JSON string holding fn(value).
FieldOutcome mask_json_whole(const MaskFunction& fn, std::string_view json_text, std::string& out) {
  thread_local std::string masked;
  masked.clear();
  if (!fn.apply_into(json_text, masked)) return FieldOutcome::null;
  append_json_string(masked, out);
  return FieldOutcome::replaced;
}

FieldOutcome mask_whole(const ColumnRule& rule, std::string_view value, bool binary, std::string& out) {
  switch (classify_type(rule.type_oid)) {
    case ValueClass::text_like:
      return rule.function.apply_into(value, out) ? FieldOutcome::replaced : FieldOutcome::null;
    case ValueClass::json:
      return mask_json_whole(rule.function, value, out);
    case ValueClass::jsonb:
      if (!binary) return mask_json_whole(rule.function, value, out);
      if (value.empty() || value[0] != kJsonbVersion) return FieldOutcome::null;
      {
        const size_t mark = out.size();
        out.push_back(kJsonbVersion);
        const FieldOutcome r = mask_json_whole(rule.function, value.substr(1), out);
        if (r != FieldOutcome::replaced) out.resize(mark);
        return r;
      }
    case ValueClass::other:
      return FieldOutcome::null;
  }
  return FieldOutcome::null;
}

FieldOutcome mask_hits(const ColumnRule& rule, std::string_view text, TextKind kind, std::string_view prefix,
                       std::string& out) {
  thread_local std::vector<Span> hits;
  rule.detectors.scan(text, hits);
  if (hits.empty()) return FieldOutcome::keep;
  if (rule.function.kind() == MaskFunction::Kind::null) return FieldOutcome::null;
  out.append(prefix);
  append_masked(text, hits, rule.function, kind, out);
  return FieldOutcome::replaced;
}

FieldOutcome detect(const ColumnRule& rule, std::string_view value, bool binary, std::string& out) {
  switch (classify_type(rule.type_oid)) {
    case ValueClass::text_like:
      return mask_hits(rule, value, TextKind::plain, {}, out);
    case ValueClass::json:
      return mask_hits(rule, value, TextKind::json, {}, out);
    case ValueClass::jsonb:
      if (!binary) return mask_hits(rule, value, TextKind::json, {}, out);
      if (!value.empty() && value[0] == kJsonbVersion)
        return mask_hits(rule, value.substr(1), TextKind::json, value.substr(0, 1), out);
      break;  // an unknown jsonb version: treat as opaque bytes
    case ValueClass::other:
      break;
  }
  // Opaque to us (numbers, arrays, binary formats): a hit cannot be cut out
  // without breaking the value, so the value goes.
  thread_local std::vector<Span> hits;
  rule.detectors.scan(value, hits);
  return hits.empty() ? FieldOutcome::keep : FieldOutcome::null;
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
      return detect(rule, value, binary, out);
  }
  return FieldOutcome::null;
}

}  // namespace pgw::mask::detail
