// SHA-256 through OpenSSL's EVP with one fetched digest and one reused
// context: the writer hashes every record, so no per-call fetch or allocation.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

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

  // "sha256:" and the lowercase hex digest of `bytes` (as sha256sum prints
  // it); empty if OpenSSL has no SHA-256.
  std::string tagged_hex(std::string_view bytes) {
    unsigned char digest[32];
    if (!ok() || !hash2(bytes.data(), bytes.size(), nullptr, 0, digest)) return {};
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned char b : digest) {
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
    return out;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

}  // namespace pgw::audit
