// The value formats masking reads: array and record literals, bytea's two
// text forms, binary arrays and records, and the text of binary scalars.
// The inputs are what PostgreSQL 15 sends for the SQL in each comment.
#include <gtest/gtest.h>

#include <string>

#include "pgwire/array_text.h"
#include "pgwire/binary_containers.h"
#include "pgwire/binary_numbers.h"
#include "pgwire/binary_text.h"
#include "pgwire/bytea_text.h"
#include "pgwire/record_text.h"

namespace pgw::pgwire {
namespace {

using namespace std::string_literals;

std::vector<std::string> array_elements(std::string_view text, char delimiter = ',') {
  std::vector<ArrayTextElement> elements;
  auto r = split_array_text(text, delimiter, elements);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error());
  std::vector<std::string> out;
  for (const auto& e : elements) {
    if (e.null) {
      out.push_back("<NULL>");
      continue;
    }
    std::string v;
    unescape_array_element(e.raw(text), v);
    out.push_back(v);
  }
  return out;
}

TEST(ArrayText, SplitsWhatArrayOutWrites) {
  // ARRAY['pay 4111 1111 1111 1111 now', 'x', NULL]
  EXPECT_EQ(array_elements(R"({"pay 4111 1111 1111 1111 now",x,NULL})"),
            (std::vector<std::string>{"pay 4111 1111 1111 1111 now", "x", "<NULL>"}));
  // ARRAY[ARRAY['a@b.io','b'],ARRAY['c','d "q"']]
  EXPECT_EQ(array_elements(R"({{a@b.io,b},{c,"d \"q\""}})"),
            (std::vector<std::string>{"a@b.io", "b", "c", "d \"q\""}));
  // '[0:1]={x,"mail a@b.io"}'::text[]
  EXPECT_EQ(array_elements(R"([0:1]={x,"mail a@b.io"})"), (std::vector<std::string>{"x", "mail a@b.io"}));
  // ARRAY['{"c": 4111111111111111}'::jsonb]
  EXPECT_EQ(array_elements(R"({"{\"c\": 4111111111111111}"})"),
            (std::vector<std::string>{R"({"c": 4111111111111111})"}));
  // A quoted "NULL" is a string; box[] uses ';'.
  EXPECT_EQ(array_elements(R"({"NULL",null})"), (std::vector<std::string>{"NULL", "<NULL>"}));
  EXPECT_EQ(array_elements("{(3,4),(1,2);(1,1),(0,0)}", ';'), (std::vector<std::string>{"(3,4),(1,2)", "(1,1),(0,0)"}));
  EXPECT_TRUE(array_elements("{}").empty());
  EXPECT_TRUE(array_elements("{{},{}}").empty());
  // What array_in accepts besides.
  EXPECT_EQ(array_elements(R"( { a\,b , "c" } )"), (std::vector<std::string>{"a,b", "c"}));
}

TEST(ArrayText, RefusesWhatIsNotAnArray) {
  for (std::string_view bad : {"", "abc", "{", "{a", "{a,}", "{,a}", "{a}b", "{\"a}", "{a}}", "[1:2]{a}", "{a\\"}) {
    std::vector<ArrayTextElement> elements;
    EXPECT_FALSE(split_array_text(bad, ',', elements).ok()) << bad;
  }
}

TEST(ArrayText, QuotedElementsReadBackAsTheyWere) {
  std::string out = "{";
  append_quoted_array_element("a \"b\" \\c", out);
  out += ",";
  append_quoted_array_element("", out);
  out += "}";
  EXPECT_EQ(array_elements(out), (std::vector<std::string>{"a \"b\" \\c", ""}));
}

std::vector<std::string> record_fields(std::string_view text) {
  std::vector<RecordTextField> fields;
  auto r = split_record_text(text, fields);
  EXPECT_TRUE(r.ok()) << text;
  std::vector<std::string> out;
  for (const auto& f : fields) {
    if (f.null()) {
      out.push_back("<NULL>");
      continue;
    }
    std::string v;
    unescape_record_field(text.substr(f.begin, f.end - f.begin), v);
    out.push_back(v);
  }
  return out;
}

TEST(RecordText, SplitsWhatRecordOutWrites) {
  // ROW(1, 'mail a@b.io', 4111111111111111::int8)
  EXPECT_EQ(record_fields(R"((1,"mail a@b.io",4111111111111111))"),
            (std::vector<std::string>{"1", "mail a@b.io", "4111111111111111"}));
  // ROW(convert_to('a@b.io', 'UTF8')): the bytea's backslash is doubled.
  EXPECT_EQ(record_fields(R"(("\\x6140622e696f"))"), (std::vector<std::string>{"\\x6140622e696f"}));
  // ROW(NULL, '', 'say "hi"', '(x,y)')
  EXPECT_EQ(record_fields(R"x((,"","say ""hi""","(x,y)"))x"),
            (std::vector<std::string>{"<NULL>", "", "say \"hi\"", "(x,y)"}));
  EXPECT_TRUE(record_fields("()").empty());
  std::vector<RecordTextField> fields;
  EXPECT_FALSE(split_record_text("(a,b", fields).ok());
  EXPECT_FALSE(split_record_text("(a)b", fields).ok());
  EXPECT_FALSE(split_record_text("a,b", fields).ok());
}

TEST(ByteaText, HexAndEscapeForms) {
  std::string bytes;
  // convert_to('card 4111 1111 1111 1111', 'UTF8') with bytea_output = hex
  ASSERT_TRUE(decode_bytea_text("\\x636172642034313131203131313120313131312031313131", bytes).ok());
  EXPECT_EQ(bytes, "card 4111 1111 1111 1111");
  bytes.clear();
  // E'\\001a@b.io\\\\'::bytea with bytea_output = escape
  ASSERT_TRUE(decode_bytea_text("\\001a@b.io\\\\", bytes).ok());
  EXPECT_EQ(bytes, "\x01"s + "a@b.io\\");
  std::string text;
  encode_bytea_text(bytes, ByteaTextForm::escape, text);
  EXPECT_EQ(text, "\\001a@b.io\\\\");
  text.clear();
  encode_bytea_text("\xff\x00"s, ByteaTextForm::hex, text);
  EXPECT_EQ(text, "\\xff00");
  EXPECT_EQ(bytea_text_form("\\x00"), ByteaTextForm::hex);
  EXPECT_EQ(bytea_text_form("\\\\x00"), ByteaTextForm::escape);
  for (std::string_view bad : {"\\x0", "\\xzz", "\\9", "a\\"}) {
    std::string ignored;
    EXPECT_FALSE(decode_bytea_text(bad, ignored).ok()) << bad;
  }
}

TEST(BinaryContainers, ArraysRoundTripWithTheirNullFlag) {
  // ARRAY['pay 4111 1111 1111 1111 now', 'x', NULL] in binary
  const std::string sent =
      "\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x19\x00\x00\x00\x03\x00\x00\x00\x01"
      "\x00\x00\x00\x1b"
      "pay 4111 1111 1111 1111 now\x00\x00\x00\x01x\xff\xff\xff\xff"s;
  auto array = decode_binary_array(sent);
  ASSERT_TRUE(array.ok()) << array.error();
  EXPECT_EQ(array->element_type, 25u);
  ASSERT_EQ(array->elements.size(), 3u);
  EXPECT_EQ(*array->elements[0], "pay 4111 1111 1111 1111 now");
  EXPECT_FALSE(array->elements[2]);
  std::string again;
  encode_binary_array(*array, array->elements, again);
  EXPECT_EQ(again, sent);
  // Without NULLs the flag goes to 0.
  std::string flagless;
  encode_binary_array(*array, {BinaryItem("a"), BinaryItem("b"), BinaryItem("c")}, flagless);
  EXPECT_EQ(flagless.substr(4, 4), "\x00\x00\x00\x00"s);
  // Two dimensions: ARRAY[ARRAY['a@b.io','b'],ARRAY['c','d']]
  const std::string two =
      "\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x19\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02"
      "\x00\x00\x00\x01\x00\x00\x00\x06"
      "a@b.io\x00\x00\x00\x01"
      "b\x00\x00\x00\x01"
      "c\x00\x00\x00\x01"
      "d"s;
  auto two_d = decode_binary_array(two);
  ASSERT_TRUE(two_d.ok()) << two_d.error();
  EXPECT_EQ(two_d->elements.size(), 4u);
  // Lies about sizes are refused.
  EXPECT_FALSE(decode_binary_array(two.substr(0, two.size() - 1)).ok());
  EXPECT_FALSE(decode_binary_array(two + "x").ok());
  std::string huge = two;
  huge[15] = '\x7f';  // first dimension 0x7f000002 elements
  EXPECT_FALSE(decode_binary_array(huge).ok());
  EXPECT_FALSE(decode_binary_array("\x00\x00\x00\x07\x00\x00\x00\x00\x00\x00\x00\x19"s).ok());
}

TEST(BinaryContainers, RecordsCarryTheirFieldTypes) {
  // ROW(1, 'mail a@b.io', 4111111111111111::int8) in binary
  const std::string sent =
      "\x00\x00\x00\x03\x00\x00\x00\x17\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x02\xc1\x00\x00\x00\x0b"
      "mail a@b.io\x00\x00\x00\x14\x00\x00\x00\x08\x00\x0e\x9b\x08\xa5h\xf1\xc7"s;
  auto fields = decode_binary_record(sent);
  ASSERT_TRUE(fields.ok()) << fields.error();
  ASSERT_EQ(fields->size(), 3u);
  EXPECT_EQ((*fields)[0].type, 23u);
  EXPECT_EQ((*fields)[1].type, 705u);  // an untyped literal
  EXPECT_EQ(*(*fields)[1].value, "mail a@b.io");
  EXPECT_EQ((*fields)[2].type, 20u);
  std::string again;
  encode_binary_record(*fields, again);
  EXPECT_EQ(again, sent);
  EXPECT_FALSE(decode_binary_record(sent.substr(0, 10)).ok());
  EXPECT_FALSE(decode_binary_record("\x7f\x00\x00\x00"s).ok());
}

std::string text_of(uint32_t oid, const std::string& bytes) {
  std::string out;
  auto r = binary_to_text(oid, bytes, out);
  EXPECT_TRUE(r.ok()) << oid << ": " << (r.ok() ? "" : r.error());
  return out;
}

TEST(BinaryText, NumbersPrintAsTheServerPrintsThem) {
  // 4111111111111111::int8, ::numeric, 4222222222222::float8
  EXPECT_EQ(text_of(20, "\x00\x0e\x9b\x08\xa5h\xf1\xc7"s), "4111111111111111");
  EXPECT_EQ(text_of(1700, "\x00\x04\x00\x03\x00\x00\x00\x00\x10\x0f\x04W\x04W\x04W"s), "4111111111111111");
  // -12.3400::numeric: 2 digits (12, 3400), weight 0, negative, dscale 4
  EXPECT_EQ(text_of(1700, "\x00\x02\x00\x00\x40\x00\x00\x04\x00\x0c\x0d\x48"s), "-12.3400");
  // 0.0005::numeric: 1 digit (5), weight -1, dscale 4
  EXPECT_EQ(text_of(1700, "\x00\x01\xff\xff\x00\x00\x00\x04\x00\x05"s), "0.0005");
  EXPECT_EQ(text_of(1700, "\x00\x00\x00\x00\xc0\x00\x00\x00"s), "NaN");
  std::string f;
  float8_to_text(4222222222222.0, f);
  EXPECT_EQ(f, "4222222222222");
  for (auto [value, text] : std::vector<std::pair<double, std::string>>{
           {4111111111111111.0, "4.111111111111111e+15"}, {0.5, "0.5"}, {1e-5, "1e-05"}, {-0.0001, "-0.0001"},
           {123456789012345.0, "123456789012345"}, {1e15, "1e+15"}, {100.0, "100"}, {1.5e300, "1.5e+300"}}) {
    std::string s;
    float8_to_text(value, s);
    EXPECT_EQ(s, text) << value;
  }
  // 12345678.90::money in cents
  EXPECT_EQ(text_of(790, "\x00\x00\x00\x00\x49\x96\x02\xd2"s), "$12,345,678.90");
  EXPECT_EQ(text_of(790, "\xff\xff\xff\xff\xff\xff\xff\x9c"s), "-$1.00");
}

TEST(BinaryText, OtherScalars) {
  // '4111 1111 1111 1111'::int2vector reads like a card in text: so here.
  EXPECT_EQ(text_of(22, "\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x15\x00\x00\x00\x04\x00\x00\x00\x00"
                        "\x00\x00\x00\x02\x10\x0f\x00\x00\x00\x02\x04W\x00\x00\x00\x02\x04W\x00\x00\x00\x02\x04W"s),
            "4111 1111 1111 1111");
  // make_interval(years => 1, days => 820335340): the signed fields are what a phone looks like.
  EXPECT_EQ(text_of(1186, "\x00\x00\x00\x00\x00\x00\x00\x00\x30\xe5\x52\xec\x00\x00\x00\x0c"s), "+1-0 +820335340 +0:00:00");
  // B'101'
  EXPECT_EQ(text_of(1562, "\x00\x00\x00\x03\xa0"s), "101");
  // point(1.5, 2)
  EXPECT_EQ(text_of(600, "\x3f\xf8\x00\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\x00"s), "(1.5,2)");
  // int8range(1, 10): [1,10)
  EXPECT_EQ(text_of(3926, "\x02\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x00"
                          "\x00\x00\x00\x0a"s),
            "[1,10)");
  // to_tsvector('simple', 'a@b.io x'): lexemes and positions
  EXPECT_EQ(text_of(3614, "\x00\x00\x00\x02" "a@b.io\x00\x00\x01\x00\x01" "x\x00\x00\x01\x00\x02"s), "'a@b.io' 'x'");
  EXPECT_FALSE(has_binary_text(16390));  // a composite or enum of the database's own
  std::string out;
  EXPECT_FALSE(binary_to_text(16390, "x", out).ok());
  EXPECT_FALSE(binary_to_text(20, "1234567", out).ok());
}

}  // namespace
}  // namespace pgw::pgwire
