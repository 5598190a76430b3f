// Helpers shared by the codec tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "pgwire/frame.h"

namespace pgw::pgwire::testing {

// Splits one encoded message into its type and body, asserting that the
// buffer holds exactly that message.
inline Message split_single(std::string_view encoded) {
  auto m = extract_message(encoded);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error());
  if (!m.ok() || !m.value()) {
    ADD_FAILURE() << "incomplete message";
    return {};
  }
  EXPECT_EQ(m.value()->size, encoded.size());
  return *m.value();
}

// encode -> decode -> equal -> re-encode identical bytes.
template <typename T>
void expect_round_trip(const T& msg) {
  std::string wire;
  encode(msg, wire);
  const Message m = split_single(wire);
  EXPECT_EQ(m.type, T::kType);
  auto decoded = T::decode(m.body);
  ASSERT_TRUE(decoded.ok()) << decoded.error();
  EXPECT_TRUE(decoded.value() == msg);
  std::string again;
  encode(decoded.value(), again);
  EXPECT_EQ(again, wire);
}

// Every strict prefix of the body must be rejected (truncation).
template <typename T>
void expect_prefixes_rejected(const T& msg) {
  std::string wire;
  encode(msg, wire);
  const std::string body(split_single(wire).body);
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_FALSE(T::decode(std::string_view(body).substr(0, n)).ok()) << "prefix of " << n << " bytes accepted";
  }
}

// ... and so must the body with one extra trailing byte. Not for messages
// whose last field runs to the end of the body (CopyData, SASL data...).
template <typename T>
void expect_truncations_rejected(const T& msg) {
  expect_prefixes_rejected(msg);
  std::string wire;
  encode(msg, wire);
  const std::string body(split_single(wire).body);
  EXPECT_FALSE(T::decode(body + '\x01').ok()) << "trailing byte accepted";
}

}  // namespace pgw::pgwire::testing
