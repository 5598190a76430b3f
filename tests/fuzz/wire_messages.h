// Shared by the wire-protocol targets: the decoders of one direction (from
// the codec's sample messages) and a check that whatever a decoder accepts
// re-encodes to bytes that decode again to the same bytes.
#pragma once

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_input.h"
#include "pgwire/frame.h"
#include "sample_messages.h"

namespace pgw::fuzz {

// The samples are listed frontend first; CopyData and CopyDone belong to
// both directions.
inline std::vector<const pgwire::testing::SampleMessage*> decoders(bool frontend) {
  std::vector<const pgwire::testing::SampleMessage*> out;
  bool backend_part = false;
  for (const auto& s : pgwire::testing::sample_messages()) {
    if (s.name == "AuthenticationOk") backend_part = true;
    const bool both = s.name == "CopyData" || s.name == "CopyDone";
    if (both || backend_part != frontend) out.push_back(&s);
  }
  return out;
}

// Decodes `body` with every decoder of `type`; anything accepted must
// round-trip.
inline void decode_round_trip(const std::vector<const pgwire::testing::SampleMessage*>& list, char type,
                              std::string_view body) {
  std::string reencoded, again;
  for (const auto* sample : list) {
    if (sample->wire.empty() || sample->wire[0] != type) continue;
    reencoded.clear();
    if (!sample->decode_and_reencode(body, reencoded)) continue;
    auto m = pgwire::extract_message(reencoded);
    check(m.ok() && m.value().has_value());
    again.clear();
    check(sample->decode_and_reencode(m.value()->body, again));
    check(again == reencoded);
  }
}

}  // namespace pgw::fuzz
