// Masking what the detectors find, in place inside a text value.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mask/detector.h"
#include "mask/mask_function.h"

namespace pgw::mask {

// How the value is written, so a masked value stays parseable.
//   plain: any text; each hit is replaced by fn(hit).
//   json:  JSON text (json, jsonb). A hit inside a string literal is replaced
//          by fn(hit) with '"', '\' and control characters turned into '*';
//          a hit outside a string can only be (part of) a number, so the whole
//          number is replaced by a JSON string holding fn(number). Clients that
//          parse json columns (psycopg does by default) keep working.
enum class TextKind : uint8_t { plain, json };

// Scans `value` with `detectors` and replaces every hit with `fn` applied to
// the hit. Returns whether anything was found (and so changed).
// A `null` function cannot null a piece of a value: hits are redacted, and
// the caller that owns the field (the row rewriter) turns the whole field
// into NULL when the function is null and this returned true.
bool mask_detected(std::string& value, const DetectorSet& detectors, const MaskFunction& fn,
                   TextKind kind = TextKind::plain);

// The hot-path form: `hits` come from DetectorSet::scan(value) (sorted,
// merged, non-empty); appends the masked copy of `value` to `out`.
void append_masked(std::string_view value, const std::vector<Span>& hits, const MaskFunction& fn, TextKind kind,
                   std::string& out);

}  // namespace pgw::mask
