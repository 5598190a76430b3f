#include "engine/denial_marker.h"

#include <openssl/rand.h>

#include "pgwire/byte_io.h"
#include "pgwire/error_response.h"

namespace pgw::engine {

std::string DenialMarkers::next_token(Denial denial) {
  // A random part makes the token unguessable: a client cannot make the
  // server echo a token of a pending denial in an error of its own.
  unsigned char r[8];
  RAND_bytes(r, sizeof r);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", r[i]);
  std::string token = "pgwarden_denied_" + std::to_string(++counter_) + "_" + hex;
  pending_.push_back({token, std::move(denial)});
  return token;
}

std::string DenialMarkers::replace_query(Denial denial) {
  std::string out;
  pgwire::ByteWriter w(out);
  size_t mark = w.begin_message('Q');
  w.cstring(next_token(std::move(denial)));
  w.end_message(mark);
  return out;
}

std::string DenialMarkers::replace_parse(std::string_view statement_name, Denial denial) {
  std::string out;
  pgwire::ByteWriter w(out);
  size_t mark = w.begin_message('P');
  w.cstring(statement_name);
  w.cstring(next_token(std::move(denial)));
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
    const Denial& d = it->denial;
    pgwire::ErrorResponse reply;
    const std::string position = d.position > 0 ? std::to_string(d.position) : std::string();
    reply.fields = {{pgwire::error_field::kSeverity, "ERROR"},
                    {pgwire::error_field::kSeverityNonLocalized, "ERROR"},
                    {pgwire::error_field::kSqlState, d.sqlstate},
                    {pgwire::error_field::kMessage, d.message}};
    if (!d.detail.empty()) reply.fields.push_back({pgwire::error_field::kDetail, d.detail});
    if (!position.empty()) reply.fields.push_back({pgwire::error_field::kPosition, position});
    std::string out;
    pgwire::encode(reply, out);
    pending_.erase(it);
    return out;
  }
  return std::nullopt;
}

}  // namespace pgw::engine
