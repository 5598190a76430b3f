// Target `startup`: the first bytes a client sends. The input is a byte
// stream (possibly several packets, as a pipelining client sends them):
// each packet the codec extracts and decodes must re-encode to the same
// bytes, and a StartupMessage goes through the engine's vetting
// (vet_startup: the settings and `options` as the server reads them), which
// accepts or refuses, never crashes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "engine/startup_params.h"
#include "fuzz_input.h"
#include "pgwire/startup.h"

using namespace pgw;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int packets = 0; packets < 4 && !in.empty(); ++packets) {
    auto packet = pgwire::extract_startup_packet(in);
    if (!packet.ok() || !packet.value()) return 0;
    const std::string_view bytes = *packet.value();
    in.remove_prefix(bytes.size());
    auto decoded = pgwire::decode_startup_packet(bytes);
    if (!decoded.ok()) return 0;
    std::string reencoded;
    std::visit([&](const auto& msg) { pgwire::encode(msg, reencoded); }, decoded.value());
    fuzz::check(reencoded == bytes);
    if (const auto* startup = std::get_if<pgwire::StartupMessage>(&decoded.value())) {
      auto vetted = engine::vet_startup(*startup);
      if (const auto* refusal = std::get_if<engine::StartupRefusal>(&vetted))
        fuzz::check(refusal->sqlstate.size() == 5 && !refusal->message.empty());
    }
  }
  return 0;
}
