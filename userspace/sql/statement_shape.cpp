#include "sql/statement_shape.h"

#include <pg_query.h>

#include <cstdio>
#include <functional>
#include <string>

namespace pgw::sql {

namespace {

std::string text_digest(std::string_view text) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "text-%016zx", std::hash<std::string_view>{}(text));
  return buf;
}

// The text with its constants as $n, written back out by the deparser (one
// spelling for any spacing and case). The fingerprint alone leaves out more
// than constants: a DO block's or a function's body, CREATE ROLE's options
// (SUPERUSER or not), EXECUTE's statement name. Empty when the normalized
// text cannot be read back (a body normalized to $1): then only the exact
// text matches.
std::string canonical_text(const std::string& text) {
  std::string out;
  PgQueryNormalizeResult n = pg_query_normalize(text.c_str());
  if (n.error == nullptr && n.normalized_query != nullptr) {
    PgQueryProtobufParseResult p = pg_query_parse_protobuf(n.normalized_query);
    if (p.error == nullptr) {
      PgQueryDeparseResult d = pg_query_deparse_protobuf(p.parse_tree);
      if (d.error == nullptr && d.query != nullptr) out = d.query;
      pg_query_free_deparse_result(d);
    }
    pg_query_free_protobuf_parse_result(p);
  }
  pg_query_free_normalize_result(n);
  return out;
}

}  // namespace

std::string statement_shape(std::string_view text) {
  const std::string copy(text);  // libpg_query wants a NUL-terminated string
  PgQueryFingerprintResult r = pg_query_fingerprint(copy.c_str());
  std::string shape;
  if (r.error == nullptr && r.fingerprint_str != nullptr) shape = r.fingerprint_str;
  pg_query_free_fingerprint_result(r);
  if (shape.empty()) return text_digest(text);
  const std::string canonical = canonical_text(copy);
  // No statement at all (a comment: pgwarden's own text for a
  // FunctionCall) or one the deparser cannot write: the exact text.
  if (canonical.empty()) return shape + "-" + text_digest(text);
  char buf[24];
  std::snprintf(buf, sizeof buf, "-%016zx", std::hash<std::string>{}(canonical));
  return shape + buf;
}

}  // namespace pgw::sql
