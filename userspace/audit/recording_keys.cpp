#include "audit/recording_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/quote.h"

namespace pgw::audit {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

Result<std::string> read_key_file(const std::string& path, bool private_key) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return make_error("cannot open " + quote_for_message(path) + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(quote_for_message(path) + " is not a regular file");
  }
  if (private_key && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error("recording key " + quote_for_message(path) + " is accessible to others (mode " + mode +
                      "): chmod 600 it");
  }
  if (st.st_size > 64 * 1024) {
    ::close(fd);
    return make_error(quote_for_message(path) + " is too large to be a key file");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(got);
  return text;
}

// "sha256:<hex>" of the raw public key; empty when it is not Ed25519.
std::string fingerprint_of(EVP_PKEY* key) {
  unsigned char raw[32];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key, raw, &len) != 1 || len != sizeof raw) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  if (EVP_Digest(raw, len, digest, &dlen, EVP_sha256(), nullptr) != 1) return {};
  return "sha256:" + to_hex(digest, dlen);
}

std::string public_pem_of(EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key) != 1) return {};
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

}  // namespace

std::string to_hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

Result<PublicKey> PublicKey::from_pem(std::string_view pem, const std::string& name_for_errors) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (raw == nullptr) {
    return make_error(name_for_errors +
                      " is not a PEM public key (make one with: openssl pkey -in recording.key -pubout)");
  }
  std::shared_ptr<EVP_PKEY> key(raw, PkeyFree{});
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) return make_error(name_for_errors + " is not an Ed25519 key");
  PublicKey out;
  out.key_ = std::move(key);
  out.fingerprint_ = fingerprint_of(raw);
  return out;
}

Result<PublicKey> PublicKey::load(const std::string& path) {
  auto text = read_key_file(path, false);
  if (!text) return make_error(text.error());
  return from_pem(*text, "public key " + quote_for_message(path));
}

std::string PublicKey::pem() const { return public_pem_of(key_.get()); }

bool PublicKey::verify(std::string_view message, const unsigned char signature[kSignatureSize]) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), signature, kSignatureSize, reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

Result<SigningKey> SigningKey::from_pem(std::string_view pem, const std::string& name_for_errors) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* raw = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (raw == nullptr) {
    return make_error(name_for_errors +
                      " is not an unencrypted PEM private key (make one with: openssl genpkey -algorithm ed25519)");
  }
  std::shared_ptr<EVP_PKEY> key(raw, PkeyFree{});
  if (EVP_PKEY_get_id(raw) != EVP_PKEY_ED25519) return make_error(name_for_errors + " is not an Ed25519 key");
  SigningKey out;
  out.key_ = std::move(key);
  out.fingerprint_ = fingerprint_of(raw);
  return out;
}

Result<SigningKey> SigningKey::load(const std::string& path) {
  auto text = read_key_file(path, true);
  if (!text) return make_error(text.error());
  auto key = from_pem(*text, "recording key " + quote_for_message(path));
  OPENSSL_cleanse(text->data(), text->size());
  return key;
}

std::string SigningKey::public_pem() const { return public_pem_of(key_.get()); }

PublicKey SigningKey::public_key() const {
  PublicKey out;
  unsigned char raw[32];
  size_t len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(key_.get(), raw, &len) == 1) {
    if (EVP_PKEY* pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw, len)) {
      out.key_ = std::shared_ptr<EVP_PKEY>(pub, PkeyFree{});
    }
  }
  if (!out.key_) out.key_ = key_;  // verifies with the public half all the same
  out.fingerprint_ = fingerprint_;
  return out;
}

bool SigningKey::sign(std::string_view message, unsigned char signature[kSignatureSize]) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) return false;
  size_t len = kSignatureSize;
  return EVP_DigestSign(ctx.get(), signature, &len, reinterpret_cast<const unsigned char*>(message.data()),
                        message.size()) == 1 &&
         len == kSignatureSize;
}

}  // namespace pgw::audit
