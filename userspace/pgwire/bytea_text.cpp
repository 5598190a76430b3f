#include "pgwire/bytea_text.h"

namespace pgw::pgwire {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_octal(char c) { return c >= '0' && c <= '7'; }

}  // namespace

ByteaTextForm bytea_text_form(std::string_view text) {
  return text.size() >= 2 && text[0] == '\\' && text[1] == 'x' ? ByteaTextForm::hex : ByteaTextForm::escape;
}

Status decode_bytea_text(std::string_view text, std::string& out) {
  if (bytea_text_form(text) == ByteaTextForm::hex) {
    // byteain skips whitespace between the digit pairs.
    for (size_t i = 2; i < text.size();) {
      const char c = text[i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i;
        continue;
      }
      if (i + 1 >= text.size()) return make_error("odd number of hex digits in bytea");
      const int hi = hex_value(c);
      const int lo = hex_value(text[i + 1]);
      if (hi < 0 || lo < 0) return make_error("invalid hex digit in bytea");
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    }
    return ok_status();
  }
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
      continue;
    }
    if (i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '3' && is_octal(text[i + 2]) &&
        is_octal(text[i + 3])) {
      out.push_back(static_cast<char>(((text[i + 1] - '0') << 6) | ((text[i + 2] - '0') << 3) | (text[i + 3] - '0')));
      i += 3;
      continue;
    }
    return make_error("invalid escape in bytea");
  }
  return ok_status();
}

void encode_bytea_text(std::string_view bytes, ByteaTextForm form, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (form == ByteaTextForm::hex) {
    out.append("\\x");
    for (char ch : bytes) {
      const auto b = static_cast<unsigned char>(ch);
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
    return;
  }
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    if (b == '\\') {
      out.append("\\\\");
    } else if (b < 0x20 || b > 0x7e) {
      out.push_back('\\');
      out.push_back(static_cast<char>('0' + (b >> 6)));
      out.push_back(static_cast<char>('0' + ((b >> 3) & 7)));
      out.push_back(static_cast<char>('0' + (b & 7)));
    } else {
      out.push_back(ch);
    }
  }
}

}  // namespace pgw::pgwire
