// HMAC-SHA256 with a fixed key, for the `hash` mask function.
//
// The engine hashes one value per masked field, so the per-call cost
// matters: the key's inner and outer pads are absorbed once at construction
// and each call only copies those two SHA-256 states (no key schedule, no
// EVP_MAC fetch). Scratch contexts are per thread, so one KeyedHash can be
// shared by every engine thread.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/result.h"

namespace pgw::mask {

class KeyedHash {
 public:
  using Digest = std::array<uint8_t, 32>;

  // Fails only when OpenSSL cannot provide SHA-256.
  static Result<std::shared_ptr<const KeyedHash>> create(std::string_view key);

  Digest digest(std::string_view message) const;

  ~KeyedHash();
  KeyedHash(const KeyedHash&) = delete;
  KeyedHash& operator=(const KeyedHash&) = delete;

 private:
  struct State;
  explicit KeyedHash(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pgw::mask
