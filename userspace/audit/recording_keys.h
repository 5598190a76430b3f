// The Ed25519 keys that sign and verify session recordings, as OpenSSL writes
// them:
//
//   openssl genpkey -algorithm ed25519 -out recording.key   (private, PEM)
//   openssl pkey -in recording.key -pubout -out recording.pub (public, PEM)
//
// A key's fingerprint is "sha256:" and the hex SHA-256 of its raw 32-byte
// public key (openssl pkey -pubin -in recording.pub -outform DER | tail -c 32
// | sha256sum), and is what a recording's header names.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "audit/recording_format.h"
#include "common/result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace pgw::audit {

class PublicKey {
 public:
  static Result<PublicKey> load(const std::string& path);
  static Result<PublicKey> from_pem(std::string_view pem, const std::string& name_for_errors = "public key");

  std::string pem() const;
  const std::string& fingerprint() const { return fingerprint_; }
  // True when `signature` is this key's Ed25519 signature of `message`.
  bool verify(std::string_view message, const unsigned char signature[kSignatureSize]) const;

 private:
  friend class SigningKey;
  std::shared_ptr<evp_pkey_st> key_;
  std::string fingerprint_;
};

class SigningKey {
 public:
  // Refuses a file that its group or others may read or write (like ssh):
  // the key is what makes a recording's signatures mean anything.
  static Result<SigningKey> load(const std::string& path);
  static Result<SigningKey> from_pem(std::string_view pem, const std::string& name_for_errors = "signing key");

  std::string public_pem() const;
  const std::string& fingerprint() const { return fingerprint_; }
  PublicKey public_key() const;
  // Signs `message`; false only when OpenSSL fails. Safe to call from
  // several threads at once.
  bool sign(std::string_view message, unsigned char signature[kSignatureSize]) const;

 private:
  std::shared_ptr<evp_pkey_st> key_;
  std::string fingerprint_;
};

// Lowercase hex of `n` bytes.
std::string to_hex(const unsigned char* bytes, size_t n);

}  // namespace pgw::audit
