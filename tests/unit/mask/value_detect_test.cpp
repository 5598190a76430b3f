// Detectors on values of every type, in text and binary format: arrays of
// any depth, records, bytea, numbers, types pgwarden does not know. The
// inputs are what PostgreSQL 15 sends for the SQL in each comment.
#include <gtest/gtest.h>

#include <functional>

#include "mask/data_row_rewriter.h"
#include "mask/type_shapes.h"
#include "pgwire/array_text.h"
#include "pgwire/binary_containers.h"
#include "pgwire/bytea_text.h"
#include "pii_gen.h"
#include "row_bytes.h"

namespace pgw::mask {
namespace {

using namespace std::string_literals;
using testing::data_row;
using testing::Field;
using testing::parse_data_row;

constexpr uint32_t kBytea = 17, kInt8 = 20, kInt2Vector = 22, kInt4 = 23, kText = 25, kOid = 26, kFloat8 = 701,
                   kTimestamptz = 1184, kInterval = 1186, kNumeric = 1700, kRecord = 2249, kTextArray = 1009,
                   kInt8Array = 1016, kByteaArray = 1001, kJsonbArray = 3807, kRecordArray = 2287, kAnyArray = 2277,
                   kTimestampArray = 1115, kUserType = 16390;

// One value through a one-column plan: the field as it comes out.
Field detect(uint32_t oid, int16_t format, const std::string& value,
             const MaskFunction& fn = MaskFunction::redact(), DetectorSet set = DetectorSet::all()) {
  const RowPlan plan({ColumnRule::detected(set, fn, oid, format)});
  std::string out;
  auto r = rewrite_data_row(data_row({value}), plan, out);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  if (!r.ok() || *r == Rewrite::unchanged) return value;
  return parse_data_row(out)[0];
}
Field text(uint32_t oid, const std::string& v) { return detect(oid, kTextFormat, v); }
Field binary(uint32_t oid, const std::string& v) { return detect(oid, kBinaryFormat, v); }

std::vector<std::string> elements_of(const std::string& array_text) {
  std::vector<pgwire::ArrayTextElement> elements;
  EXPECT_TRUE(pgwire::split_array_text(array_text, ',', elements).ok()) << array_text;
  std::vector<std::string> out;
  for (const auto& e : elements) {
    std::string v;
    if (e.null) {
      v = "<NULL>";
    } else {
      pgwire::unescape_array_element(e.raw(array_text), v);
    }
    out.push_back(v);
  }
  return out;
}

TEST(TypeShapes, WhatIsScannedAndHow) {
  for (uint32_t oid : {16u, 21u, 23u, 26u, 700u, 1082u, 1114u, 1184u, 2950u, 869u, 3904u, 1007u, 1115u}) {
    EXPECT_EQ(type_shape(oid).shape, Shape::hit_free) << oid;
  }
  EXPECT_EQ(type_shape(kText).shape, Shape::text);
  EXPECT_EQ(type_shape(kTextArray).shape, Shape::array);
  EXPECT_EQ(type_shape(kTextArray).element, kText);
  EXPECT_EQ(type_shape(1020).delimiter, ';');  // box[]
  EXPECT_EQ(type_shape(kRecord).shape, Shape::record);
  for (uint32_t oid : {kInt8, kNumeric, kFloat8, kInterval, kInt2Vector, 600u, 3614u, kUserType}) {
    EXPECT_EQ(type_shape(oid).shape, Shape::scalar) << oid;
  }
  EXPECT_EQ(type_shape(0).shape, Shape::untyped);
}

TEST(ValueDetect, TypesThatCannotHoldAHitAreNotLookedAt) {
  // Not even parsed: these bytes are no int4 or timestamptz at all.
  EXPECT_EQ(text(kInt4, "4111 1111 1111 1111"), "4111 1111 1111 1111");
  EXPECT_EQ(binary(kTimestamptz, "a@b.io"), "a@b.io");
  EXPECT_EQ(text(kTimestampArray, "{\"4111 1111 1111 1111\"}"), "{\"4111 1111 1111 1111\"}");
}

TEST(ValueDetect, TextArraysAreMaskedElementByElementAndStayArrays) {
  // ARRAY['pay 4111 1111 1111 1111 now', 'x', NULL]
  const Field got = text(kTextArray, R"({"pay 4111 1111 1111 1111 now",x,NULL})");
  ASSERT_TRUE(got);
  EXPECT_EQ(elements_of(*got), (std::vector<std::string>{"pay ******************* now", "x", "<NULL>"}));
  // Two dimensions; an element that needs quotes once masked gets them.
  const Field two = detect(kTextArray, kTextFormat, R"({{a@b.io,b},{c,"d \"q\""}})", MaskFunction::fixed("x, \"y\""));
  ASSERT_TRUE(two);
  EXPECT_EQ(*two, R"({{"x, \"y\"",b},{c,"d \"q\""}})");
  // Dimension decorations are kept.
  EXPECT_EQ(text(kTextArray, R"([0:1]={x,"mail a@b.io"})"), R"([0:1]={x,"mail ******"})");
  // Nothing found: unchanged, not rewritten.
  EXPECT_EQ(text(kTextArray, R"({"nothing here",x})"), R"({"nothing here",x})");
}

TEST(ValueDetect, ArraysOfOtherTypesLoseTheElementsWithAHit) {
  // ARRAY[4111111111111111::int8, 5]: a starred int8 is no int8.
  EXPECT_EQ(text(kInt8Array, "{4111111111111111,5}"), "{NULL,5}");
  // ARRAY['{"c": 4111111111111111}'::jsonb]: a bare number becomes a JSON string.
  const Field j = text(kJsonbArray, R"({"{\"c\": 4111111111111111}"})");
  ASSERT_TRUE(j);
  EXPECT_EQ(elements_of(*j), (std::vector<std::string>{R"({"c": "****************"})"}));
  // ARRAY[ROW(1, 'a@b.io')]: the record's field goes, the record stays.
  const Field r = text(kRecordArray, R"x({"(1,a@b.io)"})x");
  ASSERT_TRUE(r);
  EXPECT_EQ(elements_of(*r), (std::vector<std::string>{"(1,)"}));
  // anyarray (pg_stats.most_common_vals): elements of an unknown type.
  EXPECT_EQ(text(kAnyArray, R"({"4111 1111 1111 1111",abc})"), "{NULL,abc}");
}

TEST(ValueDetect, ByteaIsDecodedInEitherOutputAndStaysABytea) {
  // convert_to('card 4111 1111 1111 1111', 'UTF8'), bytea_output = hex
  const Field hex = text(kBytea, "\\x636172642034313131203131313120313131312031313131");
  ASSERT_TRUE(hex);
  std::string bytes;
  ASSERT_TRUE(pgwire::decode_bytea_text(*hex, bytes).ok());
  EXPECT_EQ(bytes, "card *******************");
  EXPECT_EQ(hex->substr(0, 2), "\\x");
  // bytea_output = escape, with a byte the octal escapes would split a run with
  EXPECT_EQ(text(kBytea, "\\012mail a@b.io\\\\"), "\\012mail ******\\\\");
  // Binary: the bytes themselves.
  EXPECT_EQ(binary(kBytea, "card 4111 1111 1111 1111"), "card *******************");
  // bytea[] in text: the elements are hex.
  const Field arr = text(kByteaArray, R"({"\\x6140622e696f"})");
  ASSERT_TRUE(arr);
  const auto elems = elements_of(*arr);
  ASSERT_EQ(elems.size(), 1u);
  bytes.clear();
  ASSERT_TRUE(pgwire::decode_bytea_text(elems[0], bytes).ok());
  EXPECT_EQ(bytes, "******");
}

TEST(ValueDetect, RecordFieldsWithAHitBecomeNullInText) {
  // ROW(1, 'mail a@b.io', 4111111111111111::int8)
  EXPECT_EQ(text(kRecord, R"((1,"mail a@b.io",4111111111111111))"), "(1,,)");
  // ROW(convert_to('a@b.io', 'UTF8')): a bytea inside, its hex hidden from a plain scan.
  EXPECT_EQ(text(kRecord, R"(("\\x6140622e696f"))"), "()");
  EXPECT_EQ(text(kRecord, R"((1,"nothing"))"), R"((1,"nothing"))");
}

TEST(ValueDetect, BinaryRecordsAndArraysGoByTheTypesTheyCarry) {
  // ROW(1, 'mail a@b.io', 4111111111111111::int8): text masked in place, the int8 nulled.
  const std::string rec =
      "\x00\x00\x00\x03\x00\x00\x00\x17\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x02\xc1\x00\x00\x00\x0b"
      "mail a@b.io\x00\x00\x00\x14\x00\x00\x00\x08\x00\x0e\x9b\x08\xa5h\xf1\xc7"s;
  const Field got = binary(kRecord, rec);
  ASSERT_TRUE(got);
  auto fields = pgwire::decode_binary_record(*got);
  ASSERT_TRUE(fields.ok());
  ASSERT_EQ(fields->size(), 3u);
  EXPECT_EQ(*(*fields)[0].value, "\x00\x00\x00\x01"s);
  EXPECT_EQ(*(*fields)[1].value, "mail ******");
  EXPECT_FALSE((*fields)[2].value);
  // ARRAY[ARRAY['a@b.io','b'],ARRAY['c','d']]: elements in place, the null flag kept right.
  const std::string two =
      "\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x19\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02"
      "\x00\x00\x00\x01\x00\x00\x00\x06"
      "a@b.io\x00\x00\x00\x01"
      "b\x00\x00\x00\x01"
      "c\x00\x00\x00\x01"
      "d"s;
  const Field arr = binary(kTextArray, two);
  ASSERT_TRUE(arr);
  auto a = pgwire::decode_binary_array(*arr);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a->elements[0], "******");
  EXPECT_EQ(arr->substr(0, 8), two.substr(0, 8));
  // ARRAY[4111111111111111::int8, 5]: the element goes, the flag says so.
  const std::string ints =
      "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x14\x00\x00\x00\x02\x00\x00\x00\x01"
      "\x00\x00\x00\x08\x00\x0e\x9b\x08\xa5h\xf1\xc7\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x05"s;
  const Field nulled = binary(kInt8Array, ints);
  ASSERT_TRUE(nulled);
  auto n = pgwire::decode_binary_array(*nulled);
  ASSERT_TRUE(n.ok());
  EXPECT_FALSE(n->elements[0]);
  EXPECT_EQ(*n->elements[1], "\x00\x00\x00\x00\x00\x00\x00\x05"s);
  EXPECT_EQ(nulled->substr(4, 4), "\x00\x00\x00\x01"s);
  // ARRAY[ROW(1, 'a@b.io')]: a record inside an array, in binary.
  const std::string recs =
      "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x08\xc9\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x1e"
      "\x00\x00\x00\x02\x00\x00\x00\x17\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x02\xc1\x00\x00\x00\x06"
      "a@b.io"s;
  const Field inner = binary(kRecordArray, recs);
  ASSERT_TRUE(inner);
  EXPECT_EQ(inner->find("a@b.io"), std::string::npos);
  EXPECT_NE(inner->find("******"), std::string::npos);
}

TEST(ValueDetect, NumbersAreJudgedByTheTextTheyPrint) {
  // A number that prints as a card number in a text column is one here too,
  // and a starred number is no number: NULL, in either format.
  EXPECT_EQ(text(kInt8, "4111111111111111"), std::nullopt);
  EXPECT_EQ(binary(kInt8, "\x00\x0e\x9b\x08\xa5h\xf1\xc7"s), std::nullopt);
  EXPECT_EQ(text(kNumeric, "4111111111111111"), std::nullopt);
  EXPECT_EQ(binary(kNumeric, "\x00\x04\x00\x03\x00\x00\x00\x00\x10\x0f\x04W\x04W\x04W"s), std::nullopt);
  EXPECT_EQ(text(kFloat8, "4222222222222"), std::nullopt);
  EXPECT_EQ(binary(kFloat8, "\x42\x8e\xb8\x80\x72\x1c\x70\x00"s), std::nullopt);  // 4222222222222
  // What a text column would keep, a number keeps: nine bare digits are no
  // SSN without "ssn" before them, in text or in an oid.
  EXPECT_EQ(text(kText, "820335340"), "820335340");
  EXPECT_EQ(text(kInt8, "820335340"), "820335340");
  EXPECT_EQ(text(kOid, "820335340"), "820335340");
  EXPECT_EQ(text(kNumeric, "12.50"), "12.50");
  // int2vector prints its numbers with spaces: '4111 1111 1111 1111'.
  EXPECT_EQ(text(kInt2Vector, "4111 1111 1111 1111"), std::nullopt);
  EXPECT_EQ(binary(kInt2Vector, "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x15\x00\x00\x00\x04\x00\x00\x00\x00"
                                "\x00\x00\x00\x02\x10\x0f\x00\x00\x00\x02\x04W\x00\x00\x00\x02\x04W\x00\x00\x00\x02\x04W"s),
            std::nullopt);
  // sql_standard intervals print signed fields: make_interval(years => 1, days => 820335340).
  EXPECT_EQ(text(kInterval, "+1-0 +820335340 +0:00:00"), std::nullopt);
}

TEST(ValueDetect, TypesPgwardenDoesNotKnowAreScannedAsTextAndNulledInBinary) {
  // A named composite, an enum, an extension's type: its text is scanned.
  EXPECT_EQ(text(kUserType, R"((7,"mail a@b.io"))"), std::nullopt);
  EXPECT_EQ(text(kUserType, "(7,nothing)"), "(7,nothing)");
  // ... and a bytea hidden in it is found too.
  EXPECT_EQ(text(kUserType, R"((7,"\\x6140622e696f"))"), std::nullopt);
  EXPECT_EQ(text(kUserType, R"((7,"\\\\001mail a@b.io"))"), std::nullopt);
  // Its binary form cannot be read, so it cannot be checked.
  EXPECT_EQ(binary(kUserType, "\x00\x00\x00\x00"s), std::nullopt);
  // jsonb of a version nobody knows: the same.
  EXPECT_EQ(detect(3802, kBinaryFormat, "\x02{}"s, MaskFunction::redact(), {Detector::email}), std::nullopt);
}

TEST(ValueDetect, TheNullFunctionNullsTheWholeValue) {
  EXPECT_EQ(detect(kTextArray, kTextFormat, R"({"mail a@b.io",x})", MaskFunction::null()), std::nullopt);
  EXPECT_EQ(detect(kTextArray, kTextFormat, R"({"nothing",x})", MaskFunction::null()), R"({"nothing",x})");
}

TEST(ValueDetect, MalformedOrTooDeepValuesAreNotForwardedUnchecked) {
  // Not an array, and a hit in it: it cannot be cut out, so it goes.
  EXPECT_EQ(text(kTextArray, "{\"mail a@b.io\""), std::nullopt);
  EXPECT_EQ(binary(kTextArray, "\x00\x00\x00\x01"s), std::nullopt);
  EXPECT_EQ(text(kBytea, "\\x6"), std::nullopt);
  // Records nested 40 deep, in binary: what lies beyond the depth walked is
  // nulled, whatever it holds.
  std::string v = "a@b.io";
  uint32_t type = kText;
  for (int i = 0; i < 40; ++i) {
    std::string rec;
    pgwire::encode_binary_record({{type, v}}, rec);
    v = rec;
    type = kRecord;
  }
  const Field deep = binary(kRecord, v);
  ASSERT_TRUE(deep);
  EXPECT_EQ(deep->find("a@b.io"), std::string::npos);
  EXPECT_EQ(deep->substr(deep->size() - 4), "\xff\xff\xff\xff"s);
}

// The module's promise on generated values: whatever container a value sits
// in, at any depth, in either format, it does not come out.
TEST(ValueDetect, NoGeneratedValueLeavesThroughAnyContainer) {
  testing::PiiGen gen(9);
  std::vector<std::function<std::string(testing::PiiGen&)>> makers = {
      [](testing::PiiGen& g) { return g.ssn(); },   [](testing::PiiGen& g) { return g.card(); },
      [](testing::PiiGen& g) { return g.phone(); }, [](testing::PiiGen& g) { return g.iban(); },
      [](testing::PiiGen& g) { return g.email(); }, [](testing::PiiGen& g) { return g.aws_key(); }};
  auto hex = [](const std::string& s) {
    std::string out;
    pgwire::encode_bytea_text(s, pgwire::ByteaTextForm::hex, out);
    return out.substr(2);
  };
  for (int round = 0; round < 300; ++round) {
    for (auto& make : makers) {
      const std::string raw = make(gen);
      const std::string note = "note: " + raw + " end";
      // Text format: a text[] (2-D), a record holding it, a record[] of that,
      // a bytea in hex and in a record.
      std::string arr = "{{x,\"";
      for (char c : note) {
        if (c == '"' || c == '\\') arr.push_back('\\');
        arr.push_back(c);
      }
      arr += "\"},{y,z}}";
      std::string rec = "(1,\"";
      for (char c : arr) {
        if (c == '"' || c == '\\') rec.push_back(c);
        rec.push_back(c);
      }
      rec += "\")";
      std::string recs = "{\"";
      for (char c : rec) {
        if (c == '"' || c == '\\') recs.push_back('\\');
        recs.push_back(c);
      }
      recs += "\"}";
      const std::string bytea = "\\x" + hex(note);
      const std::string bytea_rec = "(\"\\\\x" + hex(note) + "\")";
      const std::vector<std::pair<uint32_t, std::string>> cases = {
          {kTextArray, arr}, {kRecord, rec}, {kRecordArray, recs}, {kBytea, bytea}, {kRecord, bytea_rec},
          {kUserType, rec}, {kAnyArray, arr}};
      for (const auto& [oid, value] : cases) {
        const Field got = text(oid, value);
        if (got) {
          EXPECT_EQ(got->find(raw), std::string::npos) << oid << " " << value << " -> " << *got;
          EXPECT_EQ(got->find(hex(raw)), std::string::npos) << oid << " " << value << " -> " << *got;
        }
      }
      // Binary: the note in a text[] inside a record inside a record[].
      std::string barr;
      pgwire::BinaryArray a1;
      const std::string header1 =
          "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x19\x00\x00\x00\x02\x00\x00\x00\x01"s;
      a1.header = header1;
      pgwire::encode_binary_array(a1, {pgwire::BinaryItem("x"), pgwire::BinaryItem(note)}, barr);
      std::string brec;
      pgwire::encode_binary_record({{kInt4, "\x00\x00\x00\x01"s}, {kTextArray, barr}}, brec);
      std::string brecs;
      pgwire::BinaryArray a2;
      const std::string header2 =
          "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x08\xc9\x00\x00\x00\x01\x00\x00\x00\x01"s;
      a2.header = header2;
      pgwire::encode_binary_array(a2, {pgwire::BinaryItem(brec)}, brecs);
      for (const auto& [oid, value] : std::vector<std::pair<uint32_t, std::string>>{
               {kTextArray, barr}, {kRecord, brec}, {kRecordArray, brecs}, {kBytea, note}}) {
        const Field got = binary(oid, value);
        if (got) {
          EXPECT_EQ(got->find(raw), std::string::npos) << oid << " " << raw;
        }
      }
    }
  }
}

}  // namespace
}  // namespace pgw::mask
