#include "engine/relay/denial_markers.h"

#include <openssl/rand.h>

#include <atomic>

#include "pgwire/byte_io.h"
#include "pgwire/empty_message.h"
#include "pgwire/error_response.h"
#include "pgwire/frontend_messages.h"

namespace pgw::relay {

std::string new_denial_token() {
  static std::atomic<uint64_t> counter{0};
  unsigned char r[8];
  RAND_bytes(r, sizeof r);
  char hex[17];
  for (int i = 0; i < 8; ++i) std::snprintf(hex + 2 * i, 3, "%02x", r[i]);
  return "pgwarden_denied_" + std::to_string(++counter) + "_" + hex;
}

std::string marker_query(std::string_view token) {
  std::string out;
  pgwire::encode(pgwire::Query{token}, out);
  return out;
}

std::string marker_parse(std::string_view statement_name, std::string_view token) {
  pgwire::Parse p;
  p.statement = statement_name;
  p.query = token;
  std::string out;
  pgwire::encode(p, out);
  return out;
}

std::string marker_bind(std::string_view token) {
  pgwire::Bind b;
  b.statement = token;
  std::string out;
  pgwire::encode(b, out);
  return out;
}

std::string marker_execute(std::string_view token) {
  pgwire::Execute e;
  e.portal = token;
  std::string out;
  pgwire::encode(e, out);
  return out;
}

std::string parse_probe(std::string_view sql) {
  std::string out = marker_parse("", sql);
  pgwire::encode(pgwire::Sync{}, out);
  return out;
}

bool server_refused_text(std::string_view error_body) {
  auto err = pgwire::ErrorResponse::decode(error_body);
  if (!err) return false;
  // Said by Parse after the raw parse succeeded: the server read every
  // statement of it. Any other error of a Parse is the server's refusal of
  // the text (a syntax error, an invalid escape, an unknown table), and a
  // Parse runs nothing: the client may read it as the server said it.
  return !(err->sqlstate() == "42601" && err->message() == "cannot insert multiple commands into a prepared statement");
}

Denial server_read_it(const Denial& syntax_error) {
  Denial d = syntax_error;
  d.sqlstate = "42501";
  d.message = syntax_error.if_server_reads_message;
  d.detail = syntax_error.if_server_reads_detail;
  d.position = 0;
  return d;
}

std::optional<std::string> denial_error(const Denial& d, std::string_view error_body) {
  auto err = pgwire::ErrorResponse::decode(error_body);
  if (!err || err->message().find(d.token) == std::string_view::npos) return std::nullopt;
  return denial_reply(d);
}

std::string denial_reply(const Denial& d) {
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
  return out;
}

}  // namespace pgw::relay
