// Target `frontend`: what a client sends after startup. The input is a
// stream of typed messages (type byte, length, body), as a hostile client
// could write it. Each message goes to
//   - every frontend decoder of its type: anything accepted round-trips;
//   - the relay (protocol tracker + a filter that parses each SQL text, as
//     the policy filter does), as the engine feeds it. A malformed message
//     may end the session (fail); it must never crash or be passed on
//     after a failure.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "../unit/engine/relay_test_support.h"
#include "pgwire/frame.h"
#include "pgwire/message_types.h"
#include "wire_messages.h"

using namespace pgw;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto frontend = fuzz::decoders(true);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  relay::testing::RelayHarness h;
  h.relay.add_filter(std::make_unique<relay::testing::FactsFilter>());
  // The engine's limit is max_message_size; a small one here keeps the
  // fuzzer's inputs short.
  while (!in.empty() && !h.failed) {
    auto m = pgwire::extract_message(in, 1 << 16);
    if (!m.ok() || !m.value()) break;
    const pgwire::Message msg = *m.value();
    fuzz::decode_round_trip(frontend, msg.type, msg.body);
    const std::string whole(in.substr(0, msg.size));
    in.remove_prefix(msg.size);
    if (pgwire::frontend_message_name(msg.type).empty()) break;  // the engine ends the session there
    const size_t sent = h.upstream.size();
    h.send(whole);
    // A failed relay sends nothing more upstream.
    if (h.failed) fuzz::check(h.upstream.size() == sent);
  }
  return 0;
}
