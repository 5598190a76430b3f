#include "mask/value_detect.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "mask/detect_mask.h"
#include "mask/type_shapes.h"
#include "pgwire/array_text.h"
#include "pgwire/binary_containers.h"
#include "pgwire/binary_text.h"
#include "pgwire/bytea_text.h"
#include "pgwire/record_text.h"

namespace pgw::mask::detail {
namespace {

// jsonb's binary send format: one version byte, then the JSON text.
constexpr char kJsonbVersion = 1;
// Arrays in arrays are one array; deeper nesting is records in arrays in
// records... Beyond this, the value is not walked but nulled.
constexpr int kMaxDepth = 32;
// The element type of an array whose text form does not say (anyarray):
// an OID no type has, so its elements are scalars of an unknown type.
constexpr uint32_t kUnknownType = 0xFFFFFFFFu;

struct Walk {
  const DetectorSet& detectors;
  const MaskFunction& fn;
};

// The text of `value` with its hits masked in place, after `prefix`.
FieldOutcome mask_hits(const Walk& w, std::string_view text, TextKind kind, std::string_view prefix,
                       std::string& out) {
  thread_local std::vector<Span> hits;
  w.detectors.scan(text, hits);
  if (hits.empty()) return FieldOutcome::keep;
  out.append(prefix);
  append_masked(text, hits, w.detectors, w.fn, kind, out);
  return FieldOutcome::replaced;
}

bool has_hit(const Walk& w, std::string_view text) {
  thread_local std::vector<Span> hits;
  w.detectors.scan(text, hits);
  return !hits.empty();
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

// The text of a value whose type is not known, with bytea's encodings
// undone at whatever nesting depth they sit (a bytea field of a composite
// inside an array is `\\\\x3431...`): every run of backslashes before three
// octal digits is one byte, and every hex run after `\x` is the bytes it
// spells. Only called for text that holds a backslash.
bool decoded_has_hit(const Walk& w, std::string_view text);

// The text of a value whose type is not known: as printed, and as
// decoded_has_hit() reads it.
bool untyped_has_hit(const Walk& w, std::string_view text) {
  if (has_hit(w, text)) return true;
  return text.find('\\') != std::string_view::npos && decoded_has_hit(w, text);
}

bool decoded_has_hit(const Walk& w, std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '\\') {
      decoded.push_back(text[i++]);
      continue;
    }
    size_t j = i;
    while (j < text.size() && text[j] == '\\') ++j;
    if (j + 2 < text.size() && text[j] >= '0' && text[j] <= '3' && text[j + 1] >= '0' && text[j + 1] <= '7' &&
        text[j + 2] >= '0' && text[j + 2] <= '7') {
      decoded.push_back(static_cast<char>(((text[j] - '0') << 6) | ((text[j + 1] - '0') << 3) | (text[j + 2] - '0')));
      i = j + 3;
      continue;
    }
    decoded.push_back('\\');
    i = j;
  }
  if (has_hit(w, decoded)) return true;
  for (size_t x = text.find("\\x"); x != std::string_view::npos; x = text.find("\\x", x + 2)) {
    size_t end = x + 2;
    while (end < text.size() && is_hex(text[end])) ++end;
    std::string bytes;
    for (size_t k = x + 2; k + 1 < end; k += 2) {
      bytes.push_back(static_cast<char>((hex_value(text[k]) << 4) | hex_value(text[k + 1])));
    }
    if (!bytes.empty() && untyped_has_hit(w, bytes)) return true;
  }
  return false;
}

// Whether elements of this shape can hide text behind escapes that the
// array's own text does not show (so the array must be split even when a
// scan of its text finds nothing).
bool hides_behind_escapes(Shape s) {
  return s == Shape::bytea || s == Shape::scalar || s == Shape::record || s == Shape::untyped;
}

bool overlaps(const std::vector<Span>& hits, size_t begin, size_t end) {
  return std::any_of(hits.begin(), hits.end(), [&](const Span& h) { return h.begin < end && h.end > begin; });
}

// One value of type `oid`, whose shape the caller looked up.
FieldOutcome in_text(const Walk& w, const TypeShape& shape, std::string_view text, int depth, std::string& out);
FieldOutcome in_binary(const Walk& w, uint32_t oid, const TypeShape& shape, std::string_view bytes, int depth,
                       std::string& out);

FieldOutcome bytea_text(const Walk& w, std::string_view text, std::string& out) {
  std::string bytes;
  if (!pgwire::decode_bytea_text(text, bytes)) return FieldOutcome::null;  // not checkable
  std::string masked;
  if (mask_hits(w, bytes, TextKind::plain, {}, masked) == FieldOutcome::keep) return FieldOutcome::keep;
  pgwire::encode_bytea_text(masked, pgwire::bytea_text_form(text), out);
  return FieldOutcome::replaced;
}

// An array literal: each element by its type, the literal rebuilt around
// the elements that change.
FieldOutcome text_array(const Walk& w, const TypeShape& shape, std::string_view text, int depth, std::string& out) {
  const TypeShape element_shape = type_shape(shape.element != 0 ? shape.element : kUnknownType);
  std::vector<Span> raw_hits;
  w.detectors.scan(text, raw_hits);
  if (raw_hits.empty() &&
      !(hides_behind_escapes(element_shape.shape) && text.find('\\') != std::string_view::npos)) {
    return FieldOutcome::keep;
  }
  std::vector<pgwire::ArrayTextElement> elements;
  if (!pgwire::split_array_text(text, shape.delimiter, elements)) return FieldOutcome::null;

  std::vector<FieldOutcome> outcomes(elements.size(), FieldOutcome::keep);
  std::vector<std::string> values(elements.size());
  bool changed = false;
  std::string decoded;
  for (size_t i = 0; i < elements.size(); ++i) {
    const auto& e = elements[i];
    if (e.null) continue;
    decoded.clear();
    pgwire::unescape_array_element(e.raw(text), decoded);
    FieldOutcome o = in_text(w, element_shape, decoded, depth + 1, values[i]);
    // A hit of the whole text that the element alone does not show (its
    // context was a neighbour): the element cannot be masked in place.
    if (o == FieldOutcome::keep && overlaps(raw_hits, e.begin, e.end)) o = FieldOutcome::null;
    outcomes[i] = o;
    changed = changed || o != FieldOutcome::keep;
  }
  if (!changed) {
    // Something was found, but in no element: not an array this code reads.
    return raw_hits.empty() ? FieldOutcome::keep : FieldOutcome::null;
  }
  size_t copied = 0;
  for (size_t i = 0; i < elements.size(); ++i) {
    if (outcomes[i] == FieldOutcome::keep) continue;
    out.append(text.substr(copied, elements[i].begin - copied));
    if (outcomes[i] == FieldOutcome::null) {
      out.append("NULL");
    } else {
      pgwire::append_quoted_array_element(values[i], out);
    }
    copied = elements[i].end;
  }
  out.append(text.substr(copied));
  return FieldOutcome::replaced;
}

// A record literal: its fields have no types here, so a field with a hit
// becomes NULL (empty), which every field type accepts.
FieldOutcome text_record(const Walk& w, std::string_view text, std::string& out) {
  std::vector<Span> raw_hits;
  w.detectors.scan(text, raw_hits);
  if (raw_hits.empty() &&
      !(text.find('\\') != std::string_view::npos && decoded_has_hit(w, text))) {
    return FieldOutcome::keep;
  }
  std::vector<pgwire::RecordTextField> fields;
  if (!pgwire::split_record_text(text, fields)) return FieldOutcome::null;
  std::vector<bool> nulled(fields.size(), false);
  bool changed = false;
  std::string decoded;
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& f = fields[i];
    if (f.null()) continue;
    decoded.clear();
    pgwire::unescape_record_field(text.substr(f.begin, f.end - f.begin), decoded);
    if (overlaps(raw_hits, f.begin, f.end) || untyped_has_hit(w, decoded)) {
      nulled[i] = true;
      changed = true;
    }
  }
  if (!changed) return FieldOutcome::null;  // found, but in no one field
  size_t copied = 0;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!nulled[i]) continue;
    out.append(text.substr(copied, fields[i].begin - copied));
    copied = fields[i].end;
  }
  out.append(text.substr(copied));
  return FieldOutcome::replaced;
}

FieldOutcome in_text(const Walk& w, const TypeShape& shape, std::string_view text, int depth, std::string& out) {
  if (depth > kMaxDepth) return FieldOutcome::null;
  switch (shape.shape) {
    case Shape::hit_free:
      return FieldOutcome::keep;
    case Shape::text:
      return mask_hits(w, text, TextKind::plain, {}, out);
    case Shape::json:
    case Shape::jsonb:
      return mask_hits(w, text, TextKind::json, {}, out);
    case Shape::bytea:
      return bytea_text(w, text, out);
    case Shape::array:
      return text_array(w, shape, text, depth, out);
    case Shape::record:
      return text_record(w, text, out);
    case Shape::scalar:
      return untyped_has_hit(w, text) ? FieldOutcome::null : FieldOutcome::keep;
    case Shape::untyped:
      // What only a decoding shows cannot be masked in place (the text may
      // be a bytea's hex): the value goes. Otherwise it is text.
      if (text.find('\\') != std::string_view::npos && decoded_has_hit(w, text)) return FieldOutcome::null;
      return mask_hits(w, text, TextKind::plain, {}, out);
  }
  return FieldOutcome::null;
}

FieldOutcome binary_array(const Walk& w, std::string_view bytes, int depth, std::string& out) {
  auto array = pgwire::decode_binary_array(bytes);
  if (!array) return FieldOutcome::null;
  const TypeShape element_shape = type_shape(array->element_type);
  if (element_shape.shape == Shape::hit_free) return FieldOutcome::keep;
  // Copies are made once an element changes (most arrays have no hit).
  std::vector<pgwire::BinaryItem> items;
  std::vector<std::string> values;
  std::string value;
  for (size_t i = 0; i < array->elements.size(); ++i) {
    const pgwire::BinaryItem& e = array->elements[i];
    if (!e) continue;
    value.clear();
    const FieldOutcome o = in_binary(w, array->element_type, element_shape, *e, depth + 1, value);
    if (o == FieldOutcome::keep) continue;
    if (items.empty()) {
      items = array->elements;
      values.resize(items.size());
    }
    if (o == FieldOutcome::null) {
      items[i].reset();
    } else {
      values[i] = std::move(value);
      items[i] = values[i];
    }
  }
  if (items.empty()) return FieldOutcome::keep;
  pgwire::encode_binary_array(*array, items, out);
  return FieldOutcome::replaced;
}

FieldOutcome binary_record(const Walk& w, std::string_view bytes, int depth, std::string& out) {
  auto fields = pgwire::decode_binary_record(bytes);
  if (!fields) return FieldOutcome::null;
  std::vector<std::string> values(fields->size());
  bool changed = false;
  for (size_t i = 0; i < fields->size(); ++i) {
    auto& f = (*fields)[i];
    if (!f.value) continue;
    const FieldOutcome o = in_binary(w, f.type, type_shape(f.type), *f.value, depth + 1, values[i]);
    if (o == FieldOutcome::keep) continue;
    changed = true;
    if (o == FieldOutcome::null) {
      f.value.reset();
    } else {
      f.value = values[i];
    }
  }
  if (!changed) return FieldOutcome::keep;
  pgwire::encode_binary_record(*fields, out);
  return FieldOutcome::replaced;
}

FieldOutcome in_binary(const Walk& w, uint32_t oid, const TypeShape& shape, std::string_view bytes, int depth,
                       std::string& out) {
  if (depth > kMaxDepth) return FieldOutcome::null;
  switch (shape.shape) {
    case Shape::hit_free:
      return FieldOutcome::keep;
    case Shape::text:
    case Shape::untyped:
    case Shape::bytea:  // the bytes themselves
      return mask_hits(w, bytes, TextKind::plain, {}, out);
    case Shape::json:
      return mask_hits(w, bytes, TextKind::json, {}, out);
    case Shape::jsonb:
      // An unknown version cannot be read, so it cannot be checked.
      if (bytes.empty() || bytes[0] != kJsonbVersion) return FieldOutcome::null;
      return mask_hits(w, bytes.substr(1), TextKind::json, bytes.substr(0, 1), out);
    case Shape::array:
      return binary_array(w, bytes, depth, out);
    case Shape::record:
      return binary_record(w, bytes, depth, out);
    case Shape::scalar: {
      // Scanned as the text it stands for; a type whose binary form
      // pgwarden cannot read is not checkable, so it goes.
      if (!pgwire::has_binary_text(oid)) return FieldOutcome::null;
      std::string text;
      if (!pgwire::binary_to_text(oid, bytes, text)) return FieldOutcome::null;
      return has_hit(w, text) ? FieldOutcome::null : FieldOutcome::keep;
    }
  }
  return FieldOutcome::null;
}

}  // namespace

FieldOutcome detect_in_value(const ColumnRule& rule, std::string_view value, bool binary, std::string& out) {
  const Walk w{rule.detectors, rule.function};
  const size_t mark = out.size();
  const FieldOutcome o = binary ? in_binary(w, rule.type_oid, rule.shape, value, 0, out)
                                : in_text(w, rule.shape, value, 0, out);
  // `null` cannot null a piece of a value: whatever was found, the field goes.
  if (o == FieldOutcome::replaced && rule.function.kind() == MaskFunction::Kind::null) {
    out.resize(mark);
    return FieldOutcome::null;
  }
  return o;
}

}  // namespace pgw::mask::detail
