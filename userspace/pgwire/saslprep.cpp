#include "pgwire/saslprep.h"

#include <openssl/crypto.h>
#include <stringprep.h>

#include <cstdlib>
#include <memory>

namespace pgw::pgwire {

namespace {

bool is_ascii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// libidn hands back malloc'd memory holding (a form of) the password: wiped
// before it is freed.
struct Wiped {
  void operator()(char* p) const {
    if (p == nullptr) return;
    OPENSSL_cleanse(p, std::char_traits<char>::length(p));
    std::free(p);
  }
};

}  // namespace

std::string saslprep_password(std::string_view password) {
  if (is_ascii(password)) return std::string(password);
  // stringprep_profile reads a C string: an embedded NUL is not UTF-8 text
  // PostgreSQL could have prepped either (its input is a C string too).
  if (password.find('\0') != std::string_view::npos) return std::string(password);
  std::string input(password);
  char* out = nullptr;
  // libidn validates the UTF-8 itself (overlong forms, surrogates and code
  // points past U+10FFFF fail with STRINGPREP_ICONV_ERROR).
  const int rc = stringprep_profile(input.c_str(), &out, "SASLprep", STRINGPREP_NO_UNASSIGNED);
  const std::unique_ptr<char, Wiped> prepped(out);
  // PostgreSQL's answer to a failure or an empty result: the raw bytes.
  if (rc != STRINGPREP_OK || prepped == nullptr || prepped.get()[0] == '\0') return input;
  OPENSSL_cleanse(input.data(), input.size());
  return std::string(prepped.get());
}

}  // namespace pgw::pgwire
