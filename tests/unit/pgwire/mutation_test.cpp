// Randomised robustness: valid encodings are mutated (bytes changed,
// lengths rewritten, cut, spliced) and fed to every decoder and to the
// frame scanner. Nothing may crash or read out of bounds (run under
// -fsanitize=address to make that check strict), and whatever a decoder
// accepts must re-encode to something it decodes again identically.
// Bounded to about a second.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "pgwire/pgwire.h"
#include "sample_messages.h"

namespace pgw::pgwire {
namespace {

using testing::sample_messages;
using Clock = std::chrono::steady_clock;

constexpr auto kBudget = std::chrono::milliseconds(400);

class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}

  size_t below(size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  std::string mutate(std::string s) {
    const int rounds = 1 + static_cast<int>(below(3));
    for (int i = 0; i < rounds; ++i) {
      switch (below(6)) {
        case 0:  // change a byte
          if (!s.empty()) s[below(s.size())] = static_cast<char>(below(256));
          break;
        case 1:  // overwrite four bytes with an interesting int32 (lengths, counts)
          if (s.size() >= 4) {
            static constexpr uint32_t kInteresting[] = {0, 1, 3, 4, 5, 0xffffffff, 0xfffffffe, 0x7fffffff,
                                                        0x80000000, 0x0000ffff, 0x00010000, 0x40000000};
            const uint32_t v = kInteresting[below(std::size(kInteresting))];
            const size_t at = below(s.size() - 3);
            for (int k = 0; k < 4; ++k) s[at + k] = static_cast<char>(v >> (24 - 8 * k));
          }
          break;
        case 2:  // overwrite two bytes (int16 counts and format codes)
          if (s.size() >= 2) {
            static constexpr uint16_t kInteresting[] = {0, 1, 2, 0x7fff, 0x8000, 0xffff};
            const uint16_t v = kInteresting[below(std::size(kInteresting))];
            const size_t at = below(s.size() - 1);
            s[at] = static_cast<char>(v >> 8);
            s[at + 1] = static_cast<char>(v);
          }
          break;
        case 3:  // cut
          s.resize(below(s.size() + 1));
          break;
        case 4:  // duplicate a slice in place
          if (!s.empty()) {
            const size_t from = below(s.size());
            const size_t len = below(s.size() - from + 1);
            s.insert(below(s.size() + 1), s.substr(from, len));
          }
          break;
        case 5:  // insert a NUL (cstring boundaries)
          s.insert(below(s.size() + 1), 1, '\0');
          break;
      }
    }
    return s;
  }

 private:
  std::mt19937 rng_;
};

TEST(Mutation, DecodersSurviveAndAreIdempotent) {
  const auto& samples = sample_messages();
  Mutator mutator(20240601);
  const auto deadline = Clock::now() + kBudget;
  size_t iterations = 0, accepted = 0;
  std::string reencoded, reencoded_again;
  while (Clock::now() < deadline) {
    for (int batch = 0; batch < 64; ++batch, ++iterations) {
      const std::string wire = mutator.mutate(samples[mutator.below(samples.size())].wire);
      auto m = extract_message(wire, 1 << 16);
      // Bodies of messages that frame correctly, and raw bytes that do not,
      // both go to every decoder: type confusion must be harmless too.
      const std::string_view body =
          (m.ok() && m.value()) ? m.value()->body : std::string_view(wire).substr(wire.empty() ? 0 : 1);
      for (const auto& s : samples) {
        if (!s.decode_and_reencode(body, reencoded)) continue;
        ++accepted;
        auto again = extract_message(reencoded);
        ASSERT_TRUE(again.ok() && again.value()) << s.name;
        ASSERT_TRUE(s.decode_and_reencode(again.value()->body, reencoded_again)) << s.name;
        ASSERT_EQ(reencoded_again, reencoded) << s.name;
      }
    }
  }
  EXPECT_GT(iterations, 1000u);
  EXPECT_GT(accepted, 0u);
  RecordProperty("iterations", static_cast<int>(iterations));
}

TEST(Mutation, StartupDecoderSurvives) {
  std::vector<std::string> seeds(4);
  StartupMessage startup;
  startup.protocol_version = kProtocol32;
  startup.parameters = {{"user", "alice"}, {"database", "shop"}, {"_pq_.x", "1"}};
  encode(startup, seeds[0]);
  encode(SslRequest{}, seeds[1]);
  encode(GssEncRequest{}, seeds[2]);
  encode(CancelRequest{5, std::string(32, 'k')}, seeds[3]);
  Mutator mutator(7);
  const auto deadline = Clock::now() + kBudget / 2;
  std::string reencoded;
  while (Clock::now() < deadline) {
    for (int batch = 0; batch < 64; ++batch) {
      const std::string wire = mutator.mutate(seeds[mutator.below(seeds.size())]);
      auto packet = extract_startup_packet(wire);
      if (!packet.ok() || !packet.value()) continue;
      auto decoded = decode_startup_packet(*packet.value());
      if (!decoded.ok()) continue;
      reencoded.clear();
      std::visit([&](const auto& msg) { encode(msg, reencoded); }, decoded.value());
      EXPECT_EQ(reencoded, *packet.value());
    }
  }
}

// The scanner over a random chunking of a (possibly corrupt) stream must
// report exactly the messages extract_message finds, and fail where it
// fails.
TEST(Mutation, ScannerAgreesWithExtractOnCorruptStreams) {
  const auto& samples = sample_messages();
  Mutator mutator(99);
  const auto deadline = Clock::now() + kBudget / 2;
  constexpr uint32_t kLimit = 1 << 16;
  while (Clock::now() < deadline) {
    std::string stream;
    const size_t count = 1 + mutator.below(6);
    for (size_t i = 0; i < count; ++i) {
      const std::string& w = samples[mutator.below(samples.size())].wire;
      stream += mutator.below(4) == 0 ? mutator.mutate(w) : w;
    }

    // Reference: repeated extract_message; the stream may end mid-message.
    std::vector<std::pair<char, size_t>> expected;  // type, offset
    bool expect_error = false;
    size_t offset = 0;
    for (;;) {
      const std::string_view rest = std::string_view(stream).substr(offset);
      if (rest.size() >= kHeaderSize) {
        const uint32_t len = load_u32(rest.data() + 1);
        if (len < 4 || len > kLimit) {
          expect_error = true;
          break;
        }
        expected.emplace_back(rest[0], offset);
        offset += size_t{len} + 1;
        if (offset >= stream.size()) break;
      } else {
        break;
      }
    }

    FrameScanner scanner(kLimit);
    std::vector<std::pair<char, size_t>> seen;
    size_t begin = 0;
    bool ok = true;
    while (begin < stream.size() && ok) {
      const size_t len = 1 + mutator.below(12);
      const size_t end = std::min(stream.size(), begin + len);
      ok = scanner.scan(std::string_view(stream).substr(begin, end - begin), [&](const Frame& f) {
        seen.emplace_back(f.type, static_cast<size_t>(static_cast<std::ptrdiff_t>(begin) + f.start));
      });
      begin = end;
    }
    ASSERT_EQ(seen, expected);
    ASSERT_EQ(!ok, expect_error) << scanner.error();
  }
}

}  // namespace
}  // namespace pgw::pgwire
