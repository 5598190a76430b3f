// SHA-256 through OpenSSL's EVP with one fetched digest and one reused
// context: the writer hashes every record, so no per-call fetch or allocation.
#pragma once

#include <cstddef>

#include <openssl/evp.h>

namespace pgw::audit {

class Sha256 {
 public:
  Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  bool ok() const { return md_ != nullptr && ctx_ != nullptr; }

  // out = SHA-256(a || b).
  bool hash2(const void* a, size_t a_len, const void* b, size_t b_len, unsigned char out[32]) {
    unsigned int len = 0;
    return EVP_DigestInit_ex(ctx_, md_, nullptr) == 1 && EVP_DigestUpdate(ctx_, a, a_len) == 1 &&
           EVP_DigestUpdate(ctx_, b, b_len) == 1 && EVP_DigestFinal_ex(ctx_, out, &len) == 1 && len == 32;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

}  // namespace pgw::audit
