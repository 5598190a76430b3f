// Splits one libFuzzer input into the pieces a target needs. libFuzzer's own
// FuzzedDataProvider ships with clang only; the replay build (gcc, no
// libFuzzer) compiles the same targets, so they use this instead.
//
// Pieces are read from the front; when the input runs out every read returns
// zero / empty, so any byte string is a valid input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace pgw::fuzz {

// A property that must hold: abort() is what libFuzzer reports as a crash.
inline void check(bool condition) {
  if (!condition) std::abort();
}

// The target's own setup worked (a fixed statement was allowed, a known
// text traced). Without it every input would return early and the run
// would report millions of executions that tested nothing.
inline void require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "fuzz target setup failed: %s\n", what);
  std::abort();
}

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  explicit FuzzInput(std::string_view bytes) : rest_(bytes) {}

  bool empty() const { return rest_.empty(); }
  uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  uint16_t u16() { return static_cast<uint16_t>((byte() << 8) | byte()); }
  // The next `n` bytes (fewer at the end).
  std::string_view take(size_t n) {
    const std::string_view piece = rest_.substr(0, n);
    rest_.remove_prefix(piece.size());
    return piece;
  }
  // Bytes up to the next `separator` (not included), or the rest.
  std::string_view until(char separator) {
    const size_t at = rest_.find(separator);
    const std::string_view piece = rest_.substr(0, at);
    rest_.remove_prefix(at == std::string_view::npos ? rest_.size() : at + 1);
    return piece;
  }
  std::string_view rest() {
    const std::string_view all = rest_;
    rest_ = {};
    return all;
  }

 private:
  std::string_view rest_;
};

}  // namespace pgw::fuzz
