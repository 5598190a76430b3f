// The slicer must hand every byte on exactly once, in order, whatever the
// chunk boundaries, and deliver inspected messages whole.
#include "engine/message_slicer.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "pgwire/byte_io.h"

namespace pgw::engine {
namespace {

std::string msg(char type, std::string_view body) {
  std::string out;
  pgwire::ByteWriter w(out);
  size_t mark = w.begin_message(type);
  w.bytes(body);
  w.end_message(mark);
  return out;
}

struct Collect : MessageSlicer::Sink {
  std::string_view chunk;
  std::string out;                      // everything passed or inspected, in order
  std::vector<std::string> inspected;
  void pass_range(size_t offset, size_t length) override { out.append(chunk.substr(offset, length)); }
  void pass_bytes(std::string_view bytes) override { out.append(bytes); }
  void message(char, std::string_view whole) override {
    inspected.emplace_back(whole);
    out.append(whole);
  }
};

std::string sample_stream() {
  return msg('Q', std::string("SELECT 1\0", 9)) + msg('d', std::string(300, 'x')) + msg('S', "") +
         msg('P', std::string("\0SELECT $1\0\0\0", 13)) + msg('H', "") + msg('Q', std::string("x\0", 2)) +
         msg('d', std::string(70000, 'y'));
}

void feed_split(const std::string& stream, const std::vector<size_t>& cuts, Collect& c) {
  MessageSlicer slicer;
  size_t from = 0;
  auto inspect = [](char t) { return t == 'Q' || t == 'P'; };
  for (size_t i = 0; i <= cuts.size(); ++i) {
    size_t to = i < cuts.size() ? cuts[i] : stream.size();
    c.chunk = std::string_view(stream).substr(from, to - from);
    ASSERT_TRUE(slicer.feed(c.chunk, inspect, c)) << slicer.error();
    from = to;
  }
  EXPECT_TRUE(slicer.at_boundary());
}

TEST(MessageSlicer, EverySplitPointKeepsEveryByteInOrder) {
  const std::string stream = sample_stream();
  for (size_t cut = 0; cut <= stream.size(); cut += (cut < 400 ? 1 : 997)) {
    Collect c;
    feed_split(stream, {cut}, c);
    ASSERT_EQ(c.out, stream) << "cut at " << cut;
    ASSERT_EQ(c.inspected.size(), 3u) << "cut at " << cut;
    EXPECT_EQ(c.inspected[0], msg('Q', std::string("SELECT 1\0", 9)));
    EXPECT_EQ(c.inspected[2], msg('Q', std::string("x\0", 2)));
  }
}

TEST(MessageSlicer, OneByteChunksAndRandomSplits) {
  const std::string stream = sample_stream();
  {
    std::vector<size_t> cuts;
    for (size_t i = 1; i < 600; ++i) cuts.push_back(i);
    Collect c;
    feed_split(stream, cuts, c);
    EXPECT_EQ(c.out, stream);
    EXPECT_EQ(c.inspected.size(), 3u);
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> cuts;
    size_t at = 0;
    while (true) {
      at += 1 + rng() % 64;
      if (at >= stream.size()) break;
      cuts.push_back(at);
      if (rng() % 8 == 0) at += rng() % 20000;
    }
    Collect c;
    feed_split(stream, cuts, c);
    ASSERT_EQ(c.out, stream) << "round " << round;
    ASSERT_EQ(c.inspected.size(), 3u);
  }
}

TEST(MessageSlicer, UninspectedMessagesArePassedAsRangesOfTheChunk) {
  const std::string stream = msg('d', std::string(1000, 'z')) + msg('c', "");
  struct Count : MessageSlicer::Sink {
    int ranges = 0, bytes = 0, messages = 0;
    void pass_range(size_t, size_t) override { ++ranges; }
    void pass_bytes(std::string_view) override { ++bytes; }
    void message(char, std::string_view) override { ++messages; }
  } count;
  MessageSlicer slicer;
  ASSERT_TRUE(slicer.feed(stream, [](char) { return false; }, count));
  EXPECT_EQ(count.ranges, 1);  // one contiguous range: zero copies
  EXPECT_EQ(count.bytes, 0);
  EXPECT_EQ(count.messages, 0);
}

TEST(MessageSlicer, RejectsBadAndOversizedLengths) {
  Collect c;
  MessageSlicer slicer(1024);
  std::string bad = "Q";
  bad += std::string("\0\0\0\3", 4);
  c.chunk = bad;
  EXPECT_FALSE(slicer.feed(bad, [](char) { return true; }, c));
  EXPECT_NE(slicer.error().find("invalid length"), std::string::npos);

  MessageSlicer small(1024);
  std::string big = "Q";
  big += std::string("\0\0\x10\0", 4);
  c.chunk = big;
  EXPECT_FALSE(small.feed(big, [](char) { return true; }, c));
  EXPECT_NE(small.error().find("exceeds the maximum"), std::string::npos);
}

}  // namespace
}  // namespace pgw::engine
