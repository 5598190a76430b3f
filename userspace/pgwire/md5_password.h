// PostgreSQL's MD5 password answer to AuthenticationMD5Password:
//   "md5" + hex(md5(hex(md5(password + user)) + salt))
// The inner hash is what pg_authid stores, so the salt keeps the stored
// value off the wire. MD5 is weak; the engine supports it only because
// existing upstreams may still require it.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::pgwire {

// `salt` is the 4 bytes of the AuthenticationMD5Password request. Fails only
// if OpenSSL cannot provide MD5 (e.g. a FIPS-only configuration).
Result<std::string> md5_password_response(std::string_view user, std::string_view password, std::string_view salt);

}  // namespace pgw::pgwire
