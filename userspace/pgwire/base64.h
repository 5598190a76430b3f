// Strict standard base64 (RFC 4648, with padding) for SCRAM attributes.
// Written here rather than with EVP_DecodeBlock, which skips whitespace and
// returns padding as extra zero bytes: SCRAM needs exact bytes and must
// reject anything malformed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pgw::pgwire {

std::string base64_encode(std::string_view bytes);

// std::nullopt unless `text` is canonical padded base64 (length a multiple
// of 4, only the standard alphabet, '=' only at the end).
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace pgw::pgwire
