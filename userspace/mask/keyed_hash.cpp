#include "mask/keyed_hash.h"

#include <openssl/evp.h>

#include <cstring>
#include <stdexcept>

namespace pgw::mask {
namespace {

constexpr size_t kBlock = 64;  // SHA-256 block size

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

EVP_MD_CTX* scratch_context() {
  thread_local MdCtx scratch(EVP_MD_CTX_new());
  return scratch.get();
}

}  // namespace

struct KeyedHash::State {
  MdCtx inner;  // SHA-256 state after absorbing key ^ ipad
  MdCtx outer;  // SHA-256 state after absorbing key ^ opad
};

KeyedHash::KeyedHash(std::unique_ptr<State> state) : state_(std::move(state)) {}
KeyedHash::~KeyedHash() = default;

Result<std::shared_ptr<const KeyedHash>> KeyedHash::create(std::string_view key) {
  const EVP_MD* sha256 = EVP_sha256();
  uint8_t block[kBlock] = {};
  if (key.size() > kBlock) {
    unsigned int n = 0;
    if (EVP_Digest(key.data(), key.size(), block, &n, sha256, nullptr) != 1)
      return make_error("hash mask: SHA-256 is not available from OpenSSL");
  } else {
    std::memcpy(block, key.data(), key.size());
  }

  auto state = std::make_unique<State>();
  state->inner.reset(EVP_MD_CTX_new());
  state->outer.reset(EVP_MD_CTX_new());
  uint8_t pad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
  bool ok = state->inner && state->outer && EVP_DigestInit_ex(state->inner.get(), sha256, nullptr) == 1 &&
            EVP_DigestUpdate(state->inner.get(), pad, kBlock) == 1;
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
  ok = ok && EVP_DigestInit_ex(state->outer.get(), sha256, nullptr) == 1 &&
       EVP_DigestUpdate(state->outer.get(), pad, kBlock) == 1;
  std::memset(block, 0, sizeof block);
  std::memset(pad, 0, sizeof pad);
  if (!ok) return make_error("hash mask: SHA-256 is not available from OpenSSL");
  return std::shared_ptr<const KeyedHash>(new KeyedHash(std::move(state)));
}

KeyedHash::Digest KeyedHash::digest(std::string_view message) const {
  EVP_MD_CTX* c = scratch_context();
  Digest inner_digest{};
  Digest out{};
  unsigned int n = 0;
  // These calls only fail on allocation failure or a broken provider; a
  // masked value must never fall back to the raw one, so that is fatal.
  if (c == nullptr || EVP_MD_CTX_copy_ex(c, state_->inner.get()) != 1 ||
      EVP_DigestUpdate(c, message.data(), message.size()) != 1 ||
      EVP_DigestFinal_ex(c, inner_digest.data(), &n) != 1 || EVP_MD_CTX_copy_ex(c, state_->outer.get()) != 1 ||
      EVP_DigestUpdate(c, inner_digest.data(), inner_digest.size()) != 1 ||
      EVP_DigestFinal_ex(c, out.data(), &n) != 1) {
    throw std::runtime_error("pgwarden: HMAC-SHA256 failed inside OpenSSL");
  }
  return out;
}

}  // namespace pgw::mask
