#include "pgwire/md5_password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace pgw::pgwire {

namespace {

bool md5_hex(std::string_view a, std::string_view b, char (&hex)[32]) {
  static constexpr char kDigits[] = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx != nullptr && EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, a.data(), a.size()) == 1 && EVP_DigestUpdate(ctx, b.data(), b.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &size) == 1 && size == 16;
  EVP_MD_CTX_free(ctx);
  if (!ok) return false;
  for (int i = 0; i < 16; ++i) {
    hex[2 * i] = kDigits[digest[i] >> 4];
    hex[2 * i + 1] = kDigits[digest[i] & 15];
  }
  OPENSSL_cleanse(digest, sizeof digest);
  return true;
}

}  // namespace

Result<std::string> md5_password_response(std::string_view user, std::string_view password, std::string_view salt) {
  char inner[32];
  char outer[32];
  if (!md5_hex(password, user, inner) || !md5_hex(std::string_view(inner, 32), salt, outer)) {
    OPENSSL_cleanse(inner, sizeof inner);
    return make_error("MD5 is not available in this OpenSSL configuration");
  }
  OPENSSL_cleanse(inner, sizeof inner);
  return "md5" + std::string(outer, 32);
}

}  // namespace pgw::pgwire
