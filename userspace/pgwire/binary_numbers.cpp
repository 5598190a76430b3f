#include "pgwire/binary_numbers.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "pgwire/byte_io.h"

namespace pgw::pgwire {

namespace {

uint64_t load_u64(const char* p) { return (uint64_t{load_u32(p)} << 32) | load_u32(p + 4); }

template <typename T>
void append_integer(T v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// numeric_send's sign word.
constexpr uint16_t kNumericPositive = 0x0000;
constexpr uint16_t kNumericNegative = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr uint16_t kNumericPlusInf = 0xD000;
constexpr uint16_t kNumericMinusInf = 0xF000;
constexpr int kDecDigits = 4;  // numeric digits are base 10000

}  // namespace

Status int8_binary_to_text(std::string_view bytes, std::string& out) {
  if (bytes.size() != 8) return make_error("int8 value is not 8 bytes");
  append_integer(static_cast<int64_t>(load_u64(bytes.data())), out);
  return ok_status();
}

Status xid8_binary_to_text(std::string_view bytes, std::string& out) {
  if (bytes.size() != 8) return make_error("xid8 value is not 8 bytes");
  append_integer(load_u64(bytes.data()), out);
  return ok_status();
}

void float8_to_text(double v, std::string& out) {
  if (std::isnan(v)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "Infinity" : "-Infinity");
    return;
  }
  // Shortest round-trip digits, then laid out as PostgreSQL's d2s does.
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(r.ptr - buf));
  const size_t e_at = sci.find('e');
  std::string_view mantissa = sci.substr(0, e_at);
  int exponent = 0;
  std::from_chars(sci.data() + e_at + 1 + (sci[e_at + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exponent);
  const bool negative = !mantissa.empty() && mantissa[0] == '-';
  if (negative) mantissa.remove_prefix(1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  if (negative) out.push_back('-');
  if (exponent >= -4 && exponent < 15) {
    if (exponent < 0) {
      out.append("0.");
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out.append(digits);
    } else {
      const size_t integral = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= integral) {
        out.append(digits);
        out.append(integral - digits.size(), '0');
      } else {
        out.append(digits, 0, integral);
        out.push_back('.');
        out.append(digits, integral);
      }
    }
    return;
  }
  out.push_back(digits[0]);
  if (digits.size() > 1) {
    out.push_back('.');
    out.append(digits, 1);
  }
  out.push_back('e');
  out.push_back(exponent < 0 ? '-' : '+');
  const int magnitude = exponent < 0 ? -exponent : exponent;
  if (magnitude < 10) out.push_back('0');
  append_integer(magnitude, out);
}

Status float8_binary_to_text(std::string_view bytes, std::string& out) {
  if (bytes.size() != 8) return make_error("float8 value is not 8 bytes");
  const uint64_t bits = load_u64(bytes.data());
  double v;
  std::memcpy(&v, &bits, sizeof v);
  float8_to_text(v, out);
  return ok_status();
}

Status numeric_binary_to_text(std::string_view bytes, std::string& out) {
  ByteReader r(bytes);
  uint16_t ndigits = 0, sign = 0, dscale = 0;
  int16_t weight = 0;
  if (!r.read_u16(ndigits) || !r.read_i16(weight) || !r.read_u16(sign) || !r.read_u16(dscale)) {
    return make_error("numeric value is too short for its header");
  }
  if (r.remaining() != size_t{ndigits} * 2) return make_error("numeric value's digits do not match its length");
  switch (sign) {
    case kNumericNaN:
      out.append("NaN");
      return ok_status();
    case kNumericPlusInf:
      out.append("Infinity");
      return ok_status();
    case kNumericMinusInf:
      out.append("-Infinity");
      return ok_status();
    case kNumericPositive:
    case kNumericNegative:
      break;
    default:
      return make_error("numeric value has an unknown sign");
  }
  if (dscale > 16383) return make_error("numeric value has an impossible scale");
  auto digit = [&](int i) -> int {
    if (i < 0 || i >= ndigits) return 0;
    return static_cast<int>(load_u16(bytes.data() + 8 + 2 * static_cast<size_t>(i)));
  };
  for (int i = 0; i < ndigits; ++i) {
    if (digit(i) > 9999) return make_error("numeric value has a digit beyond 9999");
  }
  if (sign == kNumericNegative) out.push_back('-');
  // The integer part: groups 0..weight, the first without leading zeros
  // (get_str_from_var).
  if (weight < 0) {
    out.push_back('0');
  } else {
    for (int d = 0; d <= weight; ++d) {
      const int value = digit(d);
      if (d == 0) {
        append_integer(value, out);
      } else {
        char group[kDecDigits];
        for (int k = kDecDigits - 1, v = value; k >= 0; --k, v /= 10) group[k] = static_cast<char>('0' + v % 10);
        out.append(group, kDecDigits);
      }
    }
  }
  if (dscale > 0) {
    out.push_back('.');
    std::string fraction;
    for (int d = weight + 1; static_cast<int>(fraction.size()) < dscale; ++d) {
      char group[kDecDigits];
      for (int k = kDecDigits - 1, v = digit(d); k >= 0; --k, v /= 10) group[k] = static_cast<char>('0' + v % 10);
      fraction.append(group, kDecDigits);
    }
    out.append(fraction, 0, dscale);
  }
  return ok_status();
}

Status money_binary_to_text(std::string_view bytes, std::string& out) {
  if (bytes.size() != 8) return make_error("money value is not 8 bytes");
  const auto cents = static_cast<int64_t>(load_u64(bytes.data()));
  // The magnitude as unsigned, so INT64_MIN has one too.
  const uint64_t magnitude = cents < 0 ? uint64_t{0} - static_cast<uint64_t>(cents) : static_cast<uint64_t>(cents);
  std::string units;
  append_integer(magnitude / 100, units);
  if (cents < 0) out.push_back('-');
  out.push_back('$');
  for (size_t i = 0; i < units.size(); ++i) {
    if (i > 0 && (units.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(units[i]);
  }
  out.push_back('.');
  const auto rest = static_cast<int>(magnitude % 100);
  out.push_back(static_cast<char>('0' + rest / 10));
  out.push_back(static_cast<char>('0' + rest % 10));
  return ok_status();
}

}  // namespace pgw::pgwire
