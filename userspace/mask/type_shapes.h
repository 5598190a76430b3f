// What the content detectors must do with a value of a given type: where
// its text is, and what a hit inside it can become without breaking the
// type. Detectors judge the text a type prints, so a value is scanned in
// binary format as it would be in text format.
//
//   hit_free  no value of the type prints anything a detector can match
//             (bool, int2, int4, oid, float4, dates and times, uuid, inet,
//             macaddr, pg_lsn, int4/date/timestamp ranges, and arrays of
//             them): never scanned. The README gives the reason per type.
//   text      text, varchar, bpchar, name, "char", xml, unknown, refcursor:
//             a hit is masked in place (the binary form is the text).
//   json, jsonb  a hit is masked in place, the document stays JSON.
//   bytea     the bytes are scanned (hex and escape output decoded) and a
//             hit is masked in place; the value stays a bytea in its form.
//   array     each element by its element type's shape: masked in place
//             when that keeps the element's type, else the element becomes
//             NULL; the array keeps its type and dimensions.
//   record    (anonymous ROW(...)): binary fields carry their types and go
//             by them; text fields do not, so a field with a hit becomes
//             NULL.
//   scalar    every other type, built-in or not (numbers, intervals,
//             geometric types, bit strings, tsvector, named composites,
//             enums, extension types...): its text is scanned and a hit
//             makes the whole value NULL, since '***' is not a value of it.
//             In binary format it is scanned as the text it stands for
//             where pgwire knows that text (binary_text.h); any other binary
//             value cannot be scanned and becomes NULL (fail closed).
//   untyped   OID 0: the caller does not know the type (a COPY column of a
//             query): scanned as text and masked in place, and also with
//             any bytea encoding undone, where a hit makes it NULL.
//
// A domain arrives under its base type's OID (RowDescription reports the
// base type), so a domain over text[] is a text[] here.
#pragma once

#include <cstdint>

namespace pgw::mask {

enum class Shape : uint8_t { hit_free, text, json, jsonb, bytea, array, record, scalar, untyped };

struct TypeShape {
  Shape shape = Shape::scalar;
  uint32_t element = 0;   // array: the element type (0: unknown, anyarray)
  char delimiter = ',';   // array: between elements (box uses ';')
};

TypeShape type_shape(uint32_t type_oid);

// Whether the detectors have anything to do on values of this type.
inline bool may_hold_detectable_text(uint32_t type_oid) { return type_shape(type_oid).shape != Shape::hit_free; }

}  // namespace pgw::mask
