#include "pgwire/shown_value.h"

#include <algorithm>
#include <iterator>

#include "pgwire/binary_text.h"
#include "pgwire/bytea_text.h"

namespace pgw::pgwire {

namespace {

// Types whose binary form is their text (in the client encoding).
constexpr uint32_t kTextTypes[] = {25 /*text*/, 1043 /*varchar*/, 1042 /*bpchar*/, 19 /*name*/,
                                   114 /*json*/, 18 /*char*/};

// int2, int4, oid and bool in binary (binary_text.h leaves them out: no
// detector matches them).
std::optional<std::string> small_binary_number(uint32_t type, std::string_view v) {
  const auto* b = reinterpret_cast<const unsigned char*>(v.data());
  if (type == 21 && v.size() == 2) return std::to_string(static_cast<int16_t>((b[0] << 8) | b[1]));
  if ((type == 23 || type == 26) && v.size() == 4) {
    const uint32_t u = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
    return type == 23 ? std::to_string(static_cast<int32_t>(u)) : std::to_string(u);
  }
  if (type == 16 && v.size() == 1) return std::string(b[0] ? "true" : "false");
  return std::nullopt;
}

}  // namespace

std::string shown_value(uint32_t type_oid, int16_t format, std::string_view bytes) {
  if (format == kFormatText ||
      std::find(std::begin(kTextTypes), std::end(kTextTypes), type_oid) != std::end(kTextTypes)) {
    return std::string(bytes);
  }
  if (auto small = small_binary_number(type_oid, bytes)) return std::move(*small);
  if (std::string text; has_binary_text(type_oid) && binary_to_text(type_oid, bytes, text)) return text;
  std::string hex;
  encode_bytea_text(bytes, ByteaTextForm::hex, hex);
  return hex;
}

std::vector<std::optional<std::string>> shown_values(const Int16Array& formats, const ValueList& values,
                                                     const std::vector<uint32_t>& types) {
  auto format = [&formats](size_t i) -> int16_t {
    if (formats.empty()) return kFormatText;
    return formats.size() == 1 ? formats[0] : i < formats.size() ? formats[i] : kFormatText;
  };
  std::vector<std::optional<std::string>> out;
  size_t i = 0;
  for (const Value v : values) {
    if (!v) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(shown_value(i < types.size() ? types[i] : 0, format(i), *v));
    }
    ++i;
  }
  return out;
}

}  // namespace pgw::pgwire
