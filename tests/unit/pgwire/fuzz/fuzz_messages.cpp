// libFuzzer target for the wire codec. The first input byte picks what the
// rest is fed to: a startup packet, a chunked typed-message stream for the
// frame scanner, or one message body for every decoder. Like the mutation
// test, anything a decoder accepts must re-encode to bytes it decodes again
// identically.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "pgwire/pgwire.h"
#include "sample_messages.h"

using namespace pgw::pgwire;

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void fuzz_startup(std::string_view input) {
  auto packet = extract_startup_packet(input);
  if (!packet.ok() || !packet.value()) return;
  auto decoded = decode_startup_packet(*packet.value());
  if (!decoded.ok()) return;
  std::string reencoded;
  std::visit([&](const auto& msg) { encode(msg, reencoded); }, decoded.value());
  check(reencoded == *packet.value());
}

void fuzz_stream(std::string_view input) {
  if (input.empty()) return;
  // The first byte sets the chunk size, so split headers are exercised.
  const size_t chunk = 1 + static_cast<uint8_t>(input[0]) % 16;
  input.remove_prefix(1);
  FrameScanner scanner(1 << 20);
  size_t begin = 0;
  while (begin < input.size()) {
    const size_t end = std::min(input.size(), begin + chunk);
    const std::string_view piece = input.substr(begin, end - begin);
    const bool ok = scanner.scan(piece, [&](const Frame& f) {
      check(f.length >= 4 && f.length <= (1u << 20));
      check(f.start < static_cast<std::ptrdiff_t>(piece.size()) && f.start > -5);
    });
    if (!ok) return;
    begin = end;
  }
}

void fuzz_decoders(std::string_view body) {
  std::string reencoded, again;
  for (const auto& sample : pgw::pgwire::testing::sample_messages()) {
    if (!sample.decode_and_reencode(body, reencoded)) continue;
    auto m = extract_message(reencoded);
    check(m.ok() && m.value().has_value());
    check(sample.decode_and_reencode(m.value()->body, again));
    check(again == reencoded);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz_startup(input);
      break;
    case 1:
      fuzz_stream(input);
      break;
    default:
      fuzz_decoders(input);
      break;
  }
  return 0;
}
