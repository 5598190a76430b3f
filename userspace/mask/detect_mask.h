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
// the hit (and what that leaves, as append_masked says). Returns whether
// anything was found (and so changed).
// A `null` function cannot null a piece of a value: hits are redacted, and
// the caller that owns the field (the row rewriter) turns the whole field
// into NULL when the function is null and this returned true.
bool mask_detected(std::string& value, const DetectorSet& detectors, const MaskFunction& fn,
                   TextKind kind = TextKind::plain);

// The hot-path form: `hits` come from detectors.scan(value) (sorted, merged,
// non-empty); appends the masked copy of `value` to `out`.
//
// What it appends holds no hit of `detectors`: it is scanned again after
// masking, and what that finds is redacted, until nothing is found. Masking
// one hit can set free a shape its neighbour had glued (us_ssn leaves an
// SSN shape glued to more digits alone, so in "4111 1111 1111 1111-123-45-
// 6789" the card is the only hit, and redacting it leaves an SSN standing
// on its own), and a function's output can itself be a hit (fixed('...'),
// the digits of a hash). Only values with hits pay for the second scan.
void append_masked(std::string_view value, const std::vector<Span>& hits, const DetectorSet& detectors,
                   const MaskFunction& fn, TextKind kind, std::string& out);

}  // namespace pgw::mask
