// The binary forms of the two container types, as the server's array_send
// and record_send write them (result columns in format 1, and nested in
// each other):
//
//   array:  int32 ndim, int32 has-null flag, uint32 element type OID,
//           ndim x (int32 length, int32 lower bound), then every element
//           as int32 length (-1: NULL) and that many bytes
//   record: int32 field count, then per field uint32 type OID, int32 length
//           (-1: NULL) and that many bytes (named composites too)
//
// Both carry the OIDs of what they hold, so a reader can walk them without
// the catalog. Decoding checks every length; views point into the caller's
// buffer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pgw::pgwire {

using BinaryItem = std::optional<std::string_view>;  // nullopt: NULL

struct BinaryArray {
  std::string_view header;  // ndim, flags, element type and dimensions, as sent
  uint32_t element_type = 0;
  std::vector<BinaryItem> elements;  // storage order
};

struct BinaryRecordField {
  uint32_t type = 0;
  BinaryItem value;
};

// The server limits arrays to MAXDIM (6) dimensions; anything else is not
// an array it sent.
Result<BinaryArray> decode_binary_array(std::string_view bytes);

// The same array with other elements (as many as `array` had): the header is
// copied with its has-null flag set to whether any element is NULL.
void encode_binary_array(const BinaryArray& array, const std::vector<BinaryItem>& elements, std::string& out);

Result<std::vector<BinaryRecordField>> decode_binary_record(std::string_view bytes);
void encode_binary_record(const std::vector<BinaryRecordField>& fields, std::string& out);

}  // namespace pgw::pgwire
