#include "engine/denial_marker.h"

#include <openssl/rand.h>

#include "pgwire/byte_io.h"
#include "pgwire/error_response.h"

namespace pgw::engine {

std::string DenialMarkers::next_token(std::string message, std::string sqlstate) {
  // A random part makes the token unguessable: a client cannot make the
  // server echo a token of a pending denial in an error of its own.
  unsigned char r[8];
  RAND_bytes(r, sizeof r);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", r[i]);
  std::string token = "pgwarden_denied_" + std::to_string(++counter_) + "_" + hex;
  pending_.push_back({token, std::move(message), std::move(sqlstate)});
  return token;
}

std::string DenialMarkers::replace_query(std::string message, std::string sqlstate) {
  std::string out;
  pgwire::ByteWriter w(out);
  size_t mark = w.begin_message('Q');
  w.cstring(next_token(std::move(message), std::move(sqlstate)));
  w.end_message(mark);
  return out;
}

std::string DenialMarkers::replace_parse(std::string message, std::string sqlstate) {
  std::string out;
  pgwire::ByteWriter w(out);
  size_t mark = w.begin_message('P');
  w.cstring("");  // unnamed: never shadows a statement the client prepared
  w.cstring(next_token(std::move(message), std::move(sqlstate)));
  w.i16(0);
  w.end_message(mark);
  return out;
}

std::optional<std::string> DenialMarkers::rewrite(std::string_view error_body) {
  auto err = pgwire::ErrorResponse::decode(error_body);
  if (!err) return std::nullopt;
  const std::string_view text = err->message();
  for (auto it = pending_.begin(); it != pending_.end(); ++it) {
    if (text.find(it->token) == std::string_view::npos) continue;
    std::string out;
    pgwire::build_error_response({.severity = "ERROR", .sqlstate = it->sqlstate, .message = it->message}, out);
    pending_.erase(it);
    return out;
  }
  return std::nullopt;
}

}  // namespace pgw::engine
