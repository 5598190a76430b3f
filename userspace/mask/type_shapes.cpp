#include "mask/type_shapes.h"

#include <algorithm>
#include <iterator>

namespace pgw::mask {

namespace {

// Built-in array types and their elements (pg_type.dat: typarray/typelem,
// typdelim), as of PostgreSQL 15, sorted by array OID (binary search: this
// runs for every value of a scanned column). Arrays of the system catalogs'
// row types (pg_type[] ...) are arrays of composites, like a user's.
struct ArrayType {
  uint32_t array;
  uint32_t element;
  char delimiter;
};
constexpr ArrayType kArrays[] = {
    // anyarray (2277, pg_stats' sample values) and anycompatiblearray (5078):
    // the element type is only in the binary form.
    {143, 142, ','}, {199, 114, ','}, {210, 71, ','}, {270, 75, ','}, {271, 5069, ','},
    {272, 81, ','}, {273, 83, ','}, {629, 628, ','}, {651, 650, ','}, {719, 718, ','},
    {775, 774, ','}, {791, 790, ','}, {1000, 16, ','}, {1001, 17, ','}, {1002, 18, ','},
    {1003, 19, ','}, {1005, 21, ','}, {1006, 22, ','}, {1007, 23, ','}, {1008, 24, ','},
    {1009, 25, ','}, {1010, 27, ','}, {1011, 28, ','}, {1012, 29, ','}, {1013, 30, ','},
    {1014, 1042, ','}, {1015, 1043, ','}, {1016, 20, ','}, {1017, 600, ','}, {1018, 601, ','},
    {1019, 602, ','}, {1020, 603, ';'}, {1021, 700, ','}, {1022, 701, ','}, {1027, 604, ','},
    {1028, 26, ','}, {1034, 1033, ','}, {1040, 829, ','}, {1041, 869, ','}, {1115, 1114, ','},
    {1182, 1082, ','}, {1183, 1083, ','}, {1185, 1184, ','}, {1187, 1186, ','}, {1231, 1700, ','},
    {1263, 2275, ','}, {1270, 1266, ','}, {1561, 1560, ','}, {1563, 1562, ','}, {2201, 1790, ','},
    {2207, 2202, ','}, {2208, 2203, ','}, {2209, 2204, ','}, {2210, 2205, ','}, {2211, 2206, ','},
    {2277, 0, ','}, {2287, 2249, ','}, {2949, 2970, ','}, {2951, 2950, ','}, {3221, 3220, ','},
    {3643, 3614, ','}, {3644, 3642, ','}, {3645, 3615, ','}, {3735, 3734, ','}, {3770, 3769, ','},
    {3807, 3802, ','}, {3905, 3904, ','}, {3907, 3906, ','}, {3909, 3908, ','}, {3911, 3910, ','},
    {3913, 3912, ','}, {3927, 3926, ','}, {4073, 4072, ','}, {4090, 4089, ','}, {4097, 4096, ','},
    {4192, 4191, ','}, {5039, 5038, ','}, {5078, 0, ','}, {6150, 4451, ','}, {6151, 4532, ','},
    {6152, 4533, ','}, {6153, 4534, ','}, {6155, 4535, ','}, {6157, 4536, ','},
};
static_assert(std::is_sorted(std::begin(kArrays), std::end(kArrays),
                             [](const ArrayType& a, const ArrayType& b) { return a.array < b.array; }));

// Types whose every value prints without anything a detector matches. The
// detectors need a run of 9 or more digits (an SSN or a card, with or
// without separators), a '+' and 8 or more digits or a 3-3-4 digit group
// (phones), an '@' between word characters (email), two capitals and at
// least 13 more alphanumerics (IBAN) or a known key prefix (secrets):
//   bool               t / f
//   int2, int4         at most 10 digits after an optional '-'
//   oid, xid, cid      at most 10 digits
//   tid                (block,offset): at most 10 digits each
//   float4             at most 9 significant digits; %e style from 1e6 on
//   date, time, timetz, timestamp, timestamptz
//                      fields of at most 7 digits (years up to 5874897)
//                      in every DateStyle; offsets of two digits
//   uuid               hex groups 8-4-4-4-12 (digit runs of at most 12)
//   inet, cidr         dotted quads (at most 3 digits) or hex groups
//   macaddr, macaddr8  hex pairs
//   pg_lsn             two hex runs of at most 8
//   int4range, daterange, tsrange, tstzrange and their multiranges
//                      bounds of the types above
//   void
// interval is not here: the sql_standard style prints "+820335340", which
// reads as a phone number.
bool hit_free(uint32_t oid) {
  switch (oid) {
    case 16: case 21: case 23: case 26: case 27: case 28: case 29:
    case 700:
    case 1082: case 1083: case 1114: case 1184: case 1266:
    case 2950: case 869: case 650: case 829: case 774: case 3220:
    case 3904: case 3912: case 3908: case 3910:
    case 4451: case 4535: case 4533: case 4534:
    case 2278:
      return true;
    default:
      return false;
  }
}

}  // namespace

TypeShape type_shape(uint32_t oid) {
  if (hit_free(oid)) return {Shape::hit_free};
  switch (oid) {
    case 0:
      return {Shape::untyped};
    case 18:    // "char"
    case 19:    // name
    case 25:    // text
    case 142:   // xml
    case 705:   // unknown
    case 1042:  // bpchar
    case 1043:  // varchar
    case 1790:  // refcursor
    case 2275:  // cstring
      return {Shape::text};
    case 114:
      return {Shape::json};
    case 3802:
      return {Shape::jsonb};
    case 17:
      return {Shape::bytea};
    case 2249:
      return {Shape::record};
    default:
      break;
  }
  const auto* a = std::lower_bound(std::begin(kArrays), std::end(kArrays), oid,
                                   [](const ArrayType& t, uint32_t o) { return t.array < o; });
  if (a == std::end(kArrays) || a->array != oid) return {Shape::scalar};
  if (a->element != 0 && hit_free(a->element)) return {Shape::hit_free};
  return {Shape::array, a->element, a->delimiter};
}

}  // namespace pgw::mask
