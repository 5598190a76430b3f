// SASLprep (RFC 4013, a stringprep profile, RFC 3454) of SCRAM passwords,
// the way PostgreSQL applies it (src/common/saslprep.c, pg_saslprep):
//
// - an ASCII password is used unchanged (PostgreSQL skips the profile for
//   it, even for control characters the profile would prohibit);
// - otherwise the profile runs: non-ASCII spaces map to U+0020, "commonly
//   mapped to nothing" characters (U+00AD soft hyphen, zero-width joiners,
//   variation selectors...) are removed, the result is NFKC-normalised (U+2168
//   ROMAN NUMERAL NINE becomes "IX"), and prohibited output (controls,
//   private use, surrogates, non-characters...), bidirectional text that
//   breaks the RFC 3454 section 6 rules and unassigned code points (stored
//   strings: PostgreSQL refuses them too) make it fail;
// - when the password is not valid UTF-8, the profile fails or leaves
//   nothing, the raw bytes are used, as the server did when it stored the
//   verifier (CREATE ROLE ... PASSWORD runs the same function).
//
// The profile's tables and normalisation come from libidn's stringprep
// (Debian's libidn-dev), which implements RFC 3454 with its Unicode 3.2
// tables, the same tables PostgreSQL's A.1 / B.1 / C.x ranges are taken from.
#pragma once

#include <string>
#include <string_view>

namespace pgw::pgwire {

// The bytes SCRAM hashes for `password`.
std::string saslprep_password(std::string_view password);

}  // namespace pgw::pgwire
