// Target `backend`: what a server sends. After a client Query (simple
// protocol) or Parse/Bind/Describe/Execute/Sync (extended, picked by the
// first byte), the rest of the input is a stream of server messages. Each
// goes to every backend decoder of its type (anything accepted
// round-trips) and through the relay, which must attribute it to the
// request it answers or end the session, never crash.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "../unit/engine/relay_test_support.h"
#include "fuzz_input.h"
#include "pgwire/frame.h"
#include "pgwire/message_types.h"
#include "wire_messages.h"

using namespace pgw;
using namespace pgw::relay::testing;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto backend = fuzz::decoders(false);
  fuzz::FuzzInput input(data, size);
  RelayHarness h;
  h.relay.add_filter(std::make_unique<FactsFilter>());
  const uint8_t mode = input.byte();
  const char* sql = (mode & 2) ? "SELECT id, name FROM customers; SELECT 2" : "SELECT 1";
  if (mode & 1) {
    h.send(parse("s1", "SELECT $1::int"));
    h.send(bind("", "s1"));
    h.send(describe('P', ""));
    h.send(execute(""));
    h.send(relay::testing::sync());
  } else {
    h.send(query(sql));
  }
  std::string_view in = input.rest();
  while (!in.empty() && !h.failed) {
    auto m = pgwire::extract_message(in, 1 << 16);
    if (!m.ok() || !m.value()) break;
    const pgwire::Message msg = *m.value();
    fuzz::decode_round_trip(backend, msg.type, msg.body);
    const std::string whole(in.substr(0, msg.size));
    in.remove_prefix(msg.size);
    if (pgwire::backend_message_name(msg.type).empty()) break;
    h.server(whole);
    // Another request in between, as a pipelining client would.
    if (msg.type == 'Z' && !h.failed) h.send(query(sql));
  }
  return 0;
}
