#include "sql/statement_shape.h"

#include <pg_query.h>

#include <functional>
#include <string>

namespace pgw::sql {

std::string statement_shape(std::string_view text) {
  const std::string copy(text);  // libpg_query wants a NUL-terminated string
  PgQueryFingerprintResult r = pg_query_fingerprint(copy.c_str());
  std::string shape;
  if (r.error == nullptr && r.fingerprint_str != nullptr) {
    shape = r.fingerprint_str;
  } else {
    char buf[40];
    std::snprintf(buf, sizeof buf, "text-%016zx", std::hash<std::string_view>{}(text));
    shape = buf;
  }
  pg_query_free_fingerprint_result(r);
  return shape;
}

}  // namespace pgw::sql
