#include "pgwire/binary_text.h"

#include <charconv>
#include <cstring>

#include "pgwire/binary_containers.h"
#include "pgwire/binary_numbers.h"
#include "pgwire/byte_io.h"

namespace pgw::pgwire {

namespace {

// Built-in type OIDs (pg_type.dat).
enum : uint32_t {
  kInt8 = 20,
  kInt2Vector = 22,
  kRegProc = 24,
  kOidVector = 30,
  kPoint = 600,
  kLseg = 601,
  kPath = 602,
  kBox = 603,
  kPolygon = 604,
  kLine = 628,
  kFloat8 = 701,
  kCircle = 718,
  kMoney = 790,
  kInterval = 1186,
  kBit = 1560,
  kVarbit = 1562,
  kNumeric = 1700,
  kRegProcedure = 2202,
  kRegOper = 2203,
  kRegOperator = 2204,
  kRegClass = 2205,
  kRegType = 2206,
  kTxidSnapshot = 2970,
  kTsvector = 3614,
  kRegConfig = 3734,
  kRegDictionary = 3769,
  kNumRange = 3906,
  kInt8Range = 3926,
  kJsonpath = 4072,
  kRegNamespace = 4089,
  kRegRole = 4096,
  kRegCollation = 4191,
  kNumMultirange = 4532,
  kInt8Multirange = 4536,
  kPgSnapshot = 5038,
  kXid8 = 5069,
};

template <typename T>
void append_integer(T v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

uint64_t load_u64(const char* p) { return (uint64_t{load_u32(p)} << 32) | load_u32(p + 4); }

double load_float8(const char* p) {
  const uint64_t bits = load_u64(p);
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

// n float8 values, comma-separated inside `open` and `close`.
Status floats(std::string_view bytes, size_t n, char open, char close, std::string& out) {
  if (bytes.size() != n * 8) return make_error("geometric value has the wrong size");
  out.push_back(open);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out.push_back(',');
    float8_to_text(load_float8(bytes.data() + 8 * i), out);
  }
  out.push_back(close);
  return ok_status();
}

// int32 point count, then the points (a path has a "closed" byte first).
Status points(std::string_view bytes, std::string& out) {
  ByteReader r(bytes);
  int32_t n = 0;
  if (!r.read_i32(n) || n < 0 || r.remaining() != static_cast<size_t>(n) * 16) {
    return make_error("path or polygon has the wrong size");
  }
  return floats(r.rest(), static_cast<size_t>(n) * 2, '(', ')', out);
}

Status interval(std::string_view bytes, std::string& out) {
  if (bytes.size() != 16) return make_error("interval value is not 16 bytes");
  const auto usec = static_cast<int64_t>(load_u64(bytes.data()));
  const auto days = static_cast<int32_t>(load_u32(bytes.data() + 8));
  const auto months = static_cast<int32_t>(load_u32(bytes.data() + 12));
  auto sign = [&](bool negative) { out.push_back(negative ? '-' : '+'); };
  const int64_t abs_months = months < 0 ? -int64_t{months} : months;
  sign(months < 0);
  append_integer(abs_months / 12, out);
  out.push_back('-');
  append_integer(abs_months % 12, out);
  out.push_back(' ');
  sign(days < 0);
  append_integer(days < 0 ? -int64_t{days} : int64_t{days}, out);
  out.push_back(' ');
  sign(usec < 0);
  const uint64_t abs_usec = usec < 0 ? uint64_t{0} - static_cast<uint64_t>(usec) : static_cast<uint64_t>(usec);
  append_integer(abs_usec / 3600000000ULL, out);
  const uint64_t minutes = abs_usec / 60000000ULL % 60;
  const uint64_t seconds = abs_usec / 1000000ULL % 60;
  const uint64_t fraction = abs_usec % 1000000ULL;
  out.push_back(':');
  out.push_back(static_cast<char>('0' + minutes / 10));
  out.push_back(static_cast<char>('0' + minutes % 10));
  out.push_back(':');
  out.push_back(static_cast<char>('0' + seconds / 10));
  out.push_back(static_cast<char>('0' + seconds % 10));
  if (fraction != 0) {
    out.push_back('.');
    char digits[6];
    uint64_t f = fraction;
    for (int k = 5; k >= 0; --k, f /= 10) digits[k] = static_cast<char>('0' + f % 10);
    out.append(digits, 6);
  }
  return ok_status();
}

Status bits(std::string_view bytes, std::string& out) {
  ByteReader r(bytes);
  int32_t length = 0;
  if (!r.read_i32(length) || length < 0 || r.remaining() != (static_cast<size_t>(length) + 7) / 8) {
    return make_error("bit string has the wrong size");
  }
  const std::string_view data = r.rest();
  for (int32_t i = 0; i < length; ++i) {
    const auto byte = static_cast<unsigned char>(data[static_cast<size_t>(i / 8)]);
    out.push_back((byte >> (7 - i % 8)) & 1 ? '1' : '0');
  }
  return ok_status();
}

// int32 lexeme count; per lexeme a NUL-terminated string, uint16 position
// count and the positions. Positions are small numbers: only the lexemes
// matter.
Status tsvector(std::string_view bytes, std::string& out) {
  ByteReader r(bytes);
  int32_t count = 0;
  if (!r.read_i32(count) || count < 0) return make_error("tsvector is too short");
  for (int32_t i = 0; i < count; ++i) {
    std::string_view lexeme;
    uint16_t positions = 0;
    if (!r.read_cstring(lexeme) || !r.read_u16(positions) || !r.skip(size_t{positions} * 2)) {
      return make_error("tsvector lexeme runs past the end");
    }
    if (i > 0) out.push_back(' ');
    out.push_back('\'');
    out.append(lexeme);
    out.push_back('\'');
  }
  if (!r.at_end()) return make_error("tsvector has bytes after its last lexeme");
  return ok_status();
}

// int32 count, int64 xmin, int64 xmax, then the in-progress ids.
Status snapshot(std::string_view bytes, std::string& out) {
  ByteReader r(bytes);
  int32_t count = 0;
  if (!r.read_i32(count) || count < 0 || r.remaining() != (static_cast<size_t>(count) + 2) * 8) {
    return make_error("snapshot has the wrong size");
  }
  const char* p = r.rest().data();
  append_integer(load_u64(p), out);
  out.push_back(':');
  append_integer(load_u64(p + 8), out);
  out.push_back(':');
  for (int32_t i = 0; i < count; ++i) {
    if (i > 0) out.push_back(',');
    append_integer(load_u64(p + 16 + 8 * static_cast<size_t>(i)), out);
  }
  return ok_status();
}

// range_send: one flags byte, then the bounds that exist as int32 length
// and the subtype's binary value.
Status range(uint32_t subtype, std::string_view bytes, std::string& out) {
  constexpr uint8_t kEmpty = 0x01, kLowerInclusive = 0x02, kUpperInclusive = 0x04, kLowerInfinite = 0x08,
                    kUpperInfinite = 0x10;
  ByteReader r(bytes);
  uint8_t flags = 0;
  if (!r.read_u8(flags)) return make_error("range is empty of bytes");
  if (flags & kEmpty) {
    out.append("empty");
    return r.at_end() ? ok_status() : make_error("empty range has bytes after its flags");
  }
  auto bound = [&](bool present) -> Status {
    if (!present) return ok_status();
    int32_t length = 0;
    std::string_view value;
    if (!r.read_i32(length) || length < 0 || !r.read_bytes(static_cast<size_t>(length), value)) {
      return make_error("range bound runs past the end");
    }
    return binary_to_text(subtype, value, out);
  };
  out.push_back(flags & kLowerInclusive ? '[' : '(');
  if (auto s = bound(!(flags & kLowerInfinite)); !s) return s;
  out.push_back(',');
  if (auto s = bound(!(flags & kUpperInfinite)); !s) return s;
  out.push_back(flags & kUpperInclusive ? ']' : ')');
  return r.at_end() ? ok_status() : make_error("range has bytes after its bounds");
}

// multirange_send: int32 range count, then each range as int32 length and
// its range_send bytes.
Status multirange(uint32_t subtype, std::string_view bytes, std::string& out) {
  ByteReader r(bytes);
  int32_t count = 0;
  if (!r.read_i32(count) || count < 0) return make_error("multirange is too short");
  out.push_back('{');
  for (int32_t i = 0; i < count; ++i) {
    int32_t length = 0;
    std::string_view value;
    if (!r.read_i32(length) || length < 0 || !r.read_bytes(static_cast<size_t>(length), value)) {
      return make_error("multirange member runs past the end");
    }
    if (i > 0) out.push_back(',');
    if (auto s = range(subtype, value, out); !s) return s;
  }
  out.push_back('}');
  return r.at_end() ? ok_status() : make_error("multirange has bytes after its last range");
}

// int2vector and oidvector are sent as one-dimensional arrays and printed
// as their numbers separated by spaces.
Status int_vector(std::string_view bytes, std::string& out) {
  auto array = decode_binary_array(bytes);
  if (!array) return make_error(array.error());
  bool first = true;
  for (const BinaryItem& e : array->elements) {
    if (!e) return make_error("NULL in an int2vector or oidvector");
    if (!first) out.push_back(' ');
    first = false;
    if (e->size() == 2) {
      append_integer(static_cast<int16_t>(load_u16(e->data())), out);
    } else if (e->size() == 4) {
      append_integer(load_u32(e->data()), out);
    } else {
      return make_error("int2vector or oidvector element of the wrong size");
    }
  }
  return ok_status();
}

}  // namespace

bool has_binary_text(uint32_t type_oid) {
  switch (type_oid) {
    case kInt8: case kXid8: case kFloat8: case kNumeric: case kMoney: case kInterval:
    case kPoint: case kLseg: case kBox: case kLine: case kCircle: case kPath: case kPolygon:
    case kBit: case kVarbit: case kTsvector: case kTxidSnapshot: case kPgSnapshot:
    case kInt8Range: case kNumRange: case kInt8Multirange: case kNumMultirange:
    case kInt2Vector: case kOidVector: case kJsonpath:
    case kRegProc: case kRegProcedure: case kRegOper: case kRegOperator: case kRegClass: case kRegType:
    case kRegConfig: case kRegDictionary: case kRegNamespace: case kRegRole: case kRegCollation:
      return true;
    default:
      return false;
  }
}

Status binary_to_text(uint32_t type_oid, std::string_view bytes, std::string& out) {
  switch (type_oid) {
    case kInt8: return int8_binary_to_text(bytes, out);
    case kXid8: return xid8_binary_to_text(bytes, out);
    case kFloat8: return float8_binary_to_text(bytes, out);
    case kNumeric: return numeric_binary_to_text(bytes, out);
    case kMoney: return money_binary_to_text(bytes, out);
    case kInterval: return interval(bytes, out);
    case kPoint: return floats(bytes, 2, '(', ')', out);
    case kLseg: return floats(bytes, 4, '[', ']', out);
    case kBox: return floats(bytes, 4, '(', ')', out);
    case kLine: return floats(bytes, 3, '{', '}', out);
    case kCircle: return floats(bytes, 3, '<', '>', out);
    case kPath:
      if (bytes.empty()) return make_error("path is empty of bytes");
      return points(bytes.substr(1), out);
    case kPolygon: return points(bytes, out);
    case kBit:
    case kVarbit: return bits(bytes, out);
    case kTsvector: return tsvector(bytes, out);
    case kTxidSnapshot:
    case kPgSnapshot: return snapshot(bytes, out);
    case kInt8Range: return range(kInt8, bytes, out);
    case kNumRange: return range(kNumeric, bytes, out);
    case kInt8Multirange: return multirange(kInt8, bytes, out);
    case kNumMultirange: return multirange(kNumeric, bytes, out);
    case kInt2Vector:
    case kOidVector: return int_vector(bytes, out);
    case kJsonpath:
      // jsonpath_send: a version byte, then the path's text.
      if (bytes.empty() || bytes[0] != 1) return make_error("jsonpath of an unknown version");
      out.append(bytes.substr(1));
      return ok_status();
    case kRegProc: case kRegProcedure: case kRegOper: case kRegOperator: case kRegClass: case kRegType:
    case kRegConfig: case kRegDictionary: case kRegNamespace: case kRegRole: case kRegCollation:
      // An OID in binary; the name is only in the text form.
      if (bytes.size() != 4) return make_error("reg* value is not 4 bytes");
      append_integer(load_u32(bytes.data()), out);
      return ok_status();
    default:
      return make_error("no text form known for binary values of type " + std::to_string(type_oid));
  }
}

}  // namespace pgw::pgwire
