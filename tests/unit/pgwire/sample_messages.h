// One valid sample of every typed message, with a type-erased decoder, for
// the round-trip sweep and the mutation loop.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pgw::pgwire::testing {

struct SampleMessage {
  std::string name;
  std::string wire;  // the whole encoded message
  // Decodes a body as this message type; on success re-encodes the decoded
  // value into `reencoded` and returns true.
  std::function<bool(std::string_view body, std::string& reencoded)> decode_and_reencode;
  // Whether decoding `wire` gave a value equal (operator==) to the original.
  bool decoded_equals_original = false;
};

// Backing storage for the views inside the samples lives as long as the
// returned vector's elements need it (static storage).
const std::vector<SampleMessage>& sample_messages();

}  // namespace pgw::pgwire::testing
