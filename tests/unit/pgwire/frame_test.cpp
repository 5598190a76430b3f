#include "pgwire/frame.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "pgwire/byte_io.h"

namespace pgw::pgwire {
namespace {

struct Seen {
  char type;
  uint32_t length;
  long long absolute_start;
  bool operator==(const Seen&) const = default;
};

void append_message(std::string& out, char type, std::string_view body) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(type);
  w.bytes(body);
  w.end_message(mark);
}

// A stream with an empty body, a short one, one longer than a header and a
// few zero bytes that look like lengths.
std::string sample_stream(std::vector<Seen>& expected) {
  std::string s;
  auto add = [&](char type, std::string_view body) {
    expected.push_back(Seen{type, static_cast<uint32_t>(body.size() + 4), static_cast<long long>(s.size())});
    append_message(s, type, body);
  };
  add('1', "");
  add('Q', std::string_view("SELECT 1\0", 9));
  add('D', std::string_view("\0\x01\0\0\0\x02ok", 8));
  add('Z', "I");
  add('c', "");
  return s;
}

// Feeds `stream` cut at the given points and records every frame with its
// position in the whole stream.
std::vector<Seen> scan_in_chunks(const std::string& stream, const std::vector<size_t>& cuts) {
  FrameScanner scanner;
  std::vector<Seen> seen;
  size_t begin = 0;
  auto feed = [&](size_t end) {
    const bool ok = scanner.scan(std::string_view(stream).substr(begin, end - begin), [&](const Frame& f) {
      seen.push_back(Seen{f.type, f.length, static_cast<long long>(begin) + f.start});
      EXPECT_EQ(f.end() - f.start, static_cast<std::ptrdiff_t>(f.total_size()));
    });
    EXPECT_TRUE(ok) << scanner.error();
    begin = end;
  };
  for (size_t cut : cuts) feed(cut);
  feed(stream.size());
  EXPECT_TRUE(scanner.at_boundary());
  return seen;
}

TEST(FrameScanner, WholeStreamInOneChunk) {
  std::vector<Seen> expected;
  const std::string stream = sample_stream(expected);
  EXPECT_EQ(scan_in_chunks(stream, {}), expected);
}

TEST(FrameScanner, EverySingleSplitPoint) {
  std::vector<Seen> expected;
  const std::string stream = sample_stream(expected);
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    EXPECT_EQ(scan_in_chunks(stream, {cut}), expected) << "cut at " << cut;
  }
}

TEST(FrameScanner, EveryPairOfSplitPoints) {
  std::vector<Seen> expected;
  const std::string stream = sample_stream(expected);
  for (size_t a = 0; a <= stream.size(); ++a) {
    for (size_t b = a; b <= stream.size(); ++b) {
      ASSERT_EQ(scan_in_chunks(stream, {a, b}), expected) << "cuts at " << a << " and " << b;
    }
  }
}

TEST(FrameScanner, OneByteChunks) {
  std::vector<Seen> expected;
  const std::string stream = sample_stream(expected);
  std::vector<size_t> cuts;
  for (size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(scan_in_chunks(stream, cuts), expected);
}

TEST(FrameScanner, ReportsAMessageBeforeItsBodyArrives) {
  std::string stream;
  append_message(stream, 'd', std::string(100, 'x'));
  FrameScanner scanner;
  scanner.feed(std::string_view(stream).substr(0, 10));
  Frame f;
  ASSERT_EQ(scanner.next(f), FrameScanner::Step::kFrame);
  EXPECT_EQ(f.type, 'd');
  EXPECT_EQ(f.length, 104u);
  EXPECT_EQ(f.start, 0);
  EXPECT_EQ(f.end(), 105);
  EXPECT_EQ(scanner.next(f), FrameScanner::Step::kNeedMore);
  EXPECT_EQ(scanner.body_bytes_pending(), 95u);
  EXPECT_FALSE(scanner.at_boundary());
}

TEST(FrameScanner, HeaderStraddlingChunksHasNegativeStart) {
  std::string stream;
  append_message(stream, 'Q', std::string_view("x\0", 2));
  FrameScanner scanner;
  Frame f;
  scanner.feed(std::string_view(stream).substr(0, 3));
  EXPECT_EQ(scanner.next(f), FrameScanner::Step::kNeedMore);
  scanner.feed(std::string_view(stream).substr(3));
  ASSERT_EQ(scanner.next(f), FrameScanner::Step::kFrame);
  EXPECT_EQ(f.start, -3);
  EXPECT_EQ(f.end(), 4);  // the rest of the chunk is exactly the remainder
  EXPECT_EQ(scanner.next(f), FrameScanner::Step::kNeedMore);
  EXPECT_TRUE(scanner.at_boundary());
}

TEST(FrameScanner, RejectsLengthBelowFour) {
  for (uint32_t bad : {0u, 1u, 3u, 0x80000000u, 0xffffffffu}) {
    std::string stream = "Q";
    ByteWriter(stream).u32(bad);
    FrameScanner scanner;
    EXPECT_FALSE(scanner.scan(stream, [](const Frame&) { FAIL(); }));
    EXPECT_TRUE(scanner.failed());
    EXPECT_NE(scanner.error().find("'Q'"), std::string::npos) << scanner.error();
    // Sticky: more input does not resurrect the stream.
    Frame f;
    scanner.feed("Z\0\0\0\x05I");
    EXPECT_EQ(scanner.next(f), FrameScanner::Step::kError);
  }
}

TEST(FrameScanner, EnforcesTheConfiguredMaximum) {
  std::string stream;
  append_message(stream, 'D', std::string(96, 'x'));  // length field 100
  FrameScanner at_limit(100);
  EXPECT_TRUE(at_limit.scan(stream, [](const Frame&) {}));
  FrameScanner below_limit(99);
  EXPECT_FALSE(below_limit.scan(stream, [](const Frame&) {}));
  EXPECT_EQ(below_limit.error(), "message of type 'D' is 100 bytes long, over the limit of 99 bytes");
}

TEST(FrameScanner, ResetClearsAnError) {
  FrameScanner scanner;
  EXPECT_FALSE(scanner.scan(std::string_view("\x01\0\0\0\0", 5), [](const Frame&) {}));
  EXPECT_NE(scanner.error().find("0x01"), std::string::npos) << scanner.error();
  scanner.reset();
  int frames = 0;
  EXPECT_TRUE(scanner.scan(std::string_view("S\0\0\0\x04", 5), [&](const Frame&) { ++frames; }));
  EXPECT_EQ(frames, 1);
}

TEST(ExtractMessage, WaitsForTheWholeMessage) {
  std::string stream;
  append_message(stream, 'R', std::string_view("\0\0\0\0", 4));
  append_message(stream, 'Z', "I");
  for (size_t n = 0; n < 9; ++n) {
    auto m = extract_message(std::string_view(stream).substr(0, n));
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(m.value().has_value()) << n;
  }
  auto m = extract_message(stream);
  ASSERT_TRUE(m.ok() && m.value());
  EXPECT_EQ(m.value()->type, 'R');
  EXPECT_EQ(m.value()->size, 9u);
  EXPECT_EQ(m.value()->body, std::string_view("\0\0\0\0", 4));
  auto second = extract_message(std::string_view(stream).substr(9));
  ASSERT_TRUE(second.ok() && second.value());
  EXPECT_EQ(second.value()->type, 'Z');
  EXPECT_EQ(second.value()->body, "I");
}

TEST(ExtractMessage, RefusesAnOversizedHeaderBeforeTheBodyArrives) {
  std::string header = "Q";
  ByteWriter(header).u32(5000);
  EXPECT_FALSE(extract_message(header, 4096).ok());
  header = "Q";
  ByteWriter(header).u32(2);
  auto m = extract_message(header);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error(), "invalid length 2 in message of type 'Q' (must be at least 4)");
}

}  // namespace
}  // namespace pgw::pgwire
