// The text forms of a bytea value (bytea_output): hex, "\x" then two
// hex digits per byte, and escape, printable ASCII as it is, '\' doubled and
// every other byte as '\' and three octal digits.
//
// A text value starting with "\x" is hex; anything else is escape (escape
// output starts with a byte, '\\' or an octal escape, never "\x").
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::pgwire {

enum class ByteaTextForm : unsigned char { hex, escape };

ByteaTextForm bytea_text_form(std::string_view text);

// Appends the bytes `text` stands for. An error means it is not a bytea in
// either form.
Status decode_bytea_text(std::string_view text, std::string& out);

// Appends `bytes` in the given form, as byteaout would write them.
void encode_bytea_text(std::string_view bytes, ByteaTextForm form, std::string& out);

}  // namespace pgw::pgwire
