// Random and hostile input: the scanners, mask functions and rewriters must
// stay inside their buffers (run under ASan in CI), report hits that are
// well-formed, keep UTF-8 valid, and never half-write an output on error.
#include <gtest/gtest.h>

#include <random>

#include "mask/copy_rewriter.h"
#include "mask/data_row_rewriter.h"
#include "mask/detect_mask.h"
#include "row_bytes.h"

namespace pgw::mask {
namespace {

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

// Text made of pieces the scanners care about, glued at random.
std::string random_text(std::mt19937& rng, size_t pieces) {
  static const char* kPieces[] = {"4", "1", "0", "9", " ", "-", ".", "+", "(", ")", "@", "\"", "\\", "e", "y", "J",
                                  "A", "K", "I", "S", "g", "h", "p", "_", "x", "o", "b", "s", "k", "-----BEGIN ",
                                  "PRIVATE KEY-----", "-----END ", "DE", "GB", "é", "日", "😀", "\n", "\t", ",",
                                  "eyJ", "AKIA", "ghp_", "xoxb-", "sk_live_", "AIza", "com", "example"};
  std::uniform_int_distribution<size_t> pick(0, std::size(kPieces) - 1);
  std::string s;
  for (size_t i = 0; i < pieces; ++i) s += kPieces[pick(rng)];
  return s;
}

TEST(Robustness, ScannersOnRandomText) {
  std::mt19937 rng(11);
  std::vector<Span> spans;
  for (int round = 0; round < 3000; ++round) {
    const std::string text = random_text(rng, static_cast<size_t>(round % 200));
    DetectorSet::all().scan(text, spans);
    for (size_t i = 0; i < spans.size(); ++i) {
      ASSERT_LT(spans[i].begin, spans[i].end);
      ASSERT_LE(spans[i].end, text.size());
      if (i > 0) {
        ASSERT_LE(spans[i - 1].end, spans[i].begin);
      }
    }
    // Masking keeps valid UTF-8 valid.
    for (const MaskFunction& fn : {MaskFunction::redact(), MaskFunction::partial(1, 2), MaskFunction::email()}) {
      std::string masked = text;
      mask_detected(masked, DetectorSet::all(), fn);
      ASSERT_TRUE(valid_utf8(masked)) << text;
      std::string json = text;
      mask_detected(json, DetectorSet::all(), fn, TextKind::json);
      ASSERT_TRUE(valid_utf8(json)) << text;
    }
  }
}

TEST(Robustness, ScannersOnRandomBytes) {
  std::mt19937 rng(12);
  std::vector<Span> spans;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(static_cast<size_t>(round % 300), '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    DetectorSet::all().scan(bytes, spans);
    for (const Span& s : spans) ASSERT_LE(s.end, bytes.size());
    for (const MaskFunction& fn : {MaskFunction::redact(), MaskFunction::partial(3, 3), MaskFunction::email()})
      ASSERT_TRUE(fn.apply(bytes).has_value());
  }
}

TEST(Robustness, MaskFunctionsKeepUtf8Valid) {
  std::mt19937 rng(13);
  for (int round = 0; round < 2000; ++round) {
    const std::string text = random_text(rng, static_cast<size_t>(round % 40));
    ASSERT_TRUE(valid_utf8(text));
    for (const MaskFunction& fn : {MaskFunction::redact(), MaskFunction::partial(0, 4), MaskFunction::partial(2, 0),
                                   MaskFunction::partial(1, 1), MaskFunction::email()}) {
      const std::optional<std::string> out = fn.apply(text);
      ASSERT_TRUE(out.has_value());
      ASSERT_TRUE(valid_utf8(*out)) << fn.describe() << ": " << text;
    }
  }
}

TEST(Robustness, RewritersOnMutatedInput) {
  std::mt19937 rng(14);
  const RowPlan plan({ColumnRule::masked(MaskFunction::redact(), 25), ColumnRule::pass_through(25),
                      ColumnRule::detected(DetectorSet::all(), MaskFunction::redact(), 3802, kBinaryFormat)});
  const std::string good = testing::data_row({"123-45-6789", std::nullopt, "\x01{\"a\":\"4111111111111111\"}"});
  for (int round = 0; round < 5000; ++round) {
    std::string body = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      switch (rng() % 3) {
        case 0:
          body[rng() % body.size()] = static_cast<char>(rng());
          break;
        case 1:
          body.resize(rng() % (body.size() + 1));
          break;
        default:
          body.insert(rng() % (body.size() + 1), 1, static_cast<char>(rng()));
      }
      if (body.empty()) body.assign(1, 'x');  // not = "x": GCC 12 -O3 false -Wrestrict (bug 105329)
    }
    std::string out = "keep";
    Result<Rewrite> r = rewrite_data_row(body, plan, out);
    if (!r.ok() || *r == Rewrite::unchanged) {
      ASSERT_EQ(out, "keep");
    } else {
      ASSERT_NO_THROW(testing::parse_data_row(std::string_view(out).substr(4)));
    }

    std::string copy_out = "keep";
    const CopyFormat format = rng() % 2 ? CopyFormat::text() : CopyFormat::csv();
    Result<Rewrite> c = rewrite_copy_data(body, format, plan, copy_out);
    if (!c.ok() || *c == Rewrite::unchanged) {
      ASSERT_EQ(copy_out, "keep");
    }
  }
}

}  // namespace
}  // namespace pgw::mask
