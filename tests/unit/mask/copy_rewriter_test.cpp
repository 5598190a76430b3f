#include "mask/copy_rewriter.h"

#include <gtest/gtest.h>

namespace pgw::mask {
namespace {

std::string rewrite(std::string_view data, const CopyFormat& format, const RowPlan& plan) {
  std::string out = ">";
  Result<Rewrite> r = rewrite_copy_data(data, format, plan, out);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error());
  if (!r.ok()) return "<error>";
  if (*r == Rewrite::unchanged) {
    EXPECT_EQ(out, ">");
    return std::string(data);
  }
  return out.substr(1);
}

std::string copy_error(std::string_view data, const CopyFormat& format, const RowPlan& plan) {
  std::string out = ">";
  Result<Rewrite> r = rewrite_copy_data(data, format, plan, out);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(out, ">");
  return r.ok() ? std::string() : r.error();
}

const RowPlan kMiddleMasked({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::partial(0, 4)),
                             ColumnRule::pass_through()});

TEST(CopyText, MasksByPosition) {
  EXPECT_EQ(rewrite("1\t123-45-6789\tJane\n", CopyFormat::text(), kMiddleMasked), "1\t***-**-6789\tJane\n");
  EXPECT_EQ(rewrite("1\t123-45-6789\tJane\n2\t987-65-4321\tJohn\n", CopyFormat::text(), kMiddleMasked),
            "1\t***-**-6789\tJane\n2\t***-**-4321\tJohn\n");
}

TEST(CopyText, NullStaysNullAndNullingWritesBackslashN) {
  EXPECT_EQ(rewrite("1\t\\N\tJane\n", CopyFormat::text(), kMiddleMasked), "1\t\\N\tJane\n");
  const RowPlan nulled({ColumnRule::pass_through(), ColumnRule::nulled(), ColumnRule::masked(MaskFunction::null())});
  EXPECT_EQ(rewrite("1\tsecret\tJane\n", CopyFormat::text(), nulled), "1\t\\N\t\\N\n");
}

TEST(CopyText, DecodesEscapesBeforeMaskingAndEncodesAfter) {
  // The value is a b TAB c BACKSLASH d NEWLINE e (8 characters): 8 stars.
  const RowPlan redact_middle({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::redact()),
                               ColumnRule::pass_through()});
  EXPECT_EQ(rewrite("x\tab\\tc\\\\d\\ne\ty\n", CopyFormat::text(), redact_middle), "x\t********\ty\n");
  // partial keeps the separators, which must be escaped again.
  const RowPlan keep_all({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::partial(0, 1)),
                          ColumnRule::pass_through()});
  EXPECT_EQ(rewrite("x\ta\\tb\\\\c\\nd\ty\n", CopyFormat::text(), keep_all), "x\t*\\t*\\\\*\\nd\ty\n");
  // Escaped delimiters are part of the field, not field ends.
  EXPECT_EQ(rewrite("x\ta\\\tb\ty\n", CopyFormat::text(), redact_middle), "x\t***\ty\n");
}

TEST(CopyText, DetectorsSeeThroughEscapes) {
  // \x34 and \064 are both '4': the card is only visible after decoding.
  const RowPlan detect({ColumnRule::detected({Detector::credit_card}, MaskFunction::redact())});
  EXPECT_EQ(rewrite("card \\x34111111111111111 ok\n", CopyFormat::text(), detect), "card **************** ok\n");
  EXPECT_EQ(rewrite("card \\06411111111111111\\061 ok\n", CopyFormat::text(), detect), "card **************** ok\n");
  EXPECT_EQ(rewrite("nothing here\n", CopyFormat::text(), detect), "nothing here\n");
}

TEST(CopyText, CustomDelimiterAndNullString) {
  CopyFormat f = CopyFormat::text();
  f.delimiter = '|';
  f.null_string = "NULL";
  EXPECT_EQ(rewrite("1|123-45-6789|NULL\n", f, kMiddleMasked), "1|***-**-6789|NULL\n");
  EXPECT_EQ(rewrite("1|NULL|x\n", f, kMiddleMasked), "1|NULL|x\n");
  const RowPlan fixed_middle({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::fixed("a|b")),
                              ColumnRule::pass_through()});
  EXPECT_EQ(rewrite("1|x|y\n", f, fixed_middle), "1|a\\|b|y\n");
}

TEST(CopyText, LastRowWithoutNewline) {
  EXPECT_EQ(rewrite("1\t123-45-6789\tJane", CopyFormat::text(), kMiddleMasked), "1\t***-**-6789\tJane");
}

TEST(CopyText, FieldCountMustMatch) {
  EXPECT_NE(copy_error("1\t2\n", CopyFormat::text(), kMiddleMasked).find("has 2 fields, the plan expects 3"),
            std::string::npos);
  EXPECT_NE(copy_error("1\t2\t3\t4\n", CopyFormat::text(), kMiddleMasked).find("more than the 3 fields"),
            std::string::npos);
  EXPECT_NE(copy_error("1\t2\t3\n1\t2\n", CopyFormat::text(), kMiddleMasked).find("COPY row 2"), std::string::npos);
}

TEST(CopyCsv, MasksPlainAndQuotedFields) {
  EXPECT_EQ(rewrite("1,123-45-6789,Jane\n", CopyFormat::csv(), kMiddleMasked), "1,***-**-6789,Jane\n");
  EXPECT_EQ(rewrite("1,\"123-45-6789\",Jane\n", CopyFormat::csv(), kMiddleMasked), "1,\"***-**-6789\",Jane\n");
}

TEST(CopyCsv, QuotedDelimitersNewlinesAndDoubledQuotes) {
  const RowPlan redact_middle({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::redact()),
                               ColumnRule::pass_through()});
  // The value is: a,"b"<newline>c  (7 characters)
  EXPECT_EQ(rewrite("x,\"a,\"\"b\"\"\nc\",\"y,z\"\n", CopyFormat::csv(), redact_middle), "x,\"*******\",\"y,z\"\n");
  // Masked text that needs quoting gets quoted, quotes doubled.
  const RowPlan fixed_middle({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::fixed("say \"no\", ok")),
                              ColumnRule::pass_through()});
  EXPECT_EQ(rewrite("x,secret,y\n", CopyFormat::csv(), fixed_middle), "x,\"say \"\"no\"\", ok\",y\n");
}

TEST(CopyCsv, NullVersusEmptyString) {
  // Unquoted empty is NULL and stays so; quoted empty is an empty string.
  EXPECT_EQ(rewrite("1,,Jane\n", CopyFormat::csv(), kMiddleMasked), "1,,Jane\n");
  EXPECT_EQ(rewrite("1,\"\",Jane\n", CopyFormat::csv(), kMiddleMasked), "1,\"\",Jane\n");
  const RowPlan empty_fixed({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::fixed("")),
                             ColumnRule::pass_through()});
  EXPECT_EQ(rewrite("1,abc,Jane\n", CopyFormat::csv(), empty_fixed), "1,\"\",Jane\n");  // not NULL
  const RowPlan nulled({ColumnRule::pass_through(), ColumnRule::nulled(), ColumnRule::pass_through()});
  EXPECT_EQ(rewrite("1,\"abc\",Jane\n", CopyFormat::csv(), nulled), "1,,Jane\n");
}

TEST(CopyCsv, CustomQuoteAndEscape) {
  CopyFormat f = CopyFormat::csv();
  f.delimiter = ';';
  f.quote = '\'';
  f.escape = '\\';
  const RowPlan redact_middle({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::redact()),
                               ColumnRule::pass_through()});
  // Value: it's;x  (6 characters)
  EXPECT_EQ(rewrite("1;'it\\'s;x';2\n", f, redact_middle), "1;'******';2\n");
  const RowPlan fixed_middle({ColumnRule::pass_through(), ColumnRule::masked(MaskFunction::fixed("a'b\\c")),
                              ColumnRule::pass_through()});
  EXPECT_EQ(rewrite("1;x;2\n", f, fixed_middle), "1;'a\\'b\\\\c';2\n");
}

TEST(CopyCsv, DetectorsInsideQuotedFields) {
  const RowPlan detect({ColumnRule::pass_through(), ColumnRule::detected({Detector::email}, MaskFunction::email())});
  EXPECT_EQ(rewrite("1,\"Contact: jane@example.com, \"\"VIP\"\"\"\n", CopyFormat::csv(), detect),
            "1,\"Contact: j***@example.com, \"\"VIP\"\"\"\n");
}

TEST(CopyCsv, UnterminatedQuoteIsAnError) {
  EXPECT_NE(copy_error("1,\"abc\n", CopyFormat::csv(), kMiddleMasked).find("ends inside a quoted field"),
            std::string::npos);
}

TEST(Copy, NoWorkOrNoDataIsUnchanged) {
  std::string out;
  const RowPlan pass({ColumnRule::pass_through()});
  ASSERT_TRUE(rewrite_copy_data("anything\n", CopyFormat::text(), pass, out).ok());
  EXPECT_TRUE(out.empty());
  Result<Rewrite> r = rewrite_copy_data("", CopyFormat::text(), kMiddleMasked, out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, Rewrite::unchanged);
}

}  // namespace
}  // namespace pgw::mask

namespace pgw::mask {
namespace {

// COPY (SELECT convert_to(body, 'UTF8'), ARRAY[body], ROW(id, body) FROM t):
// the columns have no types, and a bytea's hex hides its text from a plain
// scan.
TEST(CopyText, ColumnsOfUnknownTypeAreScannedWithByteaEncodingsUndone) {
  const RowPlan plan({ColumnRule::detected(DetectorSet::all(), MaskFunction::redact()),
                      ColumnRule::detected(DetectorSet::all(), MaskFunction::redact()),
                      ColumnRule::detected(DetectorSet::all(), MaskFunction::redact())});
  EXPECT_EQ(rewrite("\\\\x6d61696c206140622e696f\t{\"mail a@b.io\"}\t(1,\"mail a@b.io\")\n", CopyFormat::text(), plan),
            "\\N\t{\"mail ******\"}\t(1,\"mail ******\")\n");
  // A hex run whose digits look like a hit in themselves: masking them in
  // place would leave the rest of the bytes readable.
  const std::string aws = "Leaked in a log line: aws_access_key_id=AKIADYWXLD1L5RDQSI4P";
  std::string hex = "\\\\x";
  for (unsigned char c : aws) {
    static constexpr char kHex[] = "0123456789abcdef";
    hex.push_back(kHex[c >> 4]);
    hex.push_back(kHex[c & 15]);
  }
  const RowPlan one({ColumnRule::detected(DetectorSet::all(), MaskFunction::redact())});
  EXPECT_EQ(rewrite(hex + "\n", CopyFormat::text(), one), "\\N\n");
}

}  // namespace
}  // namespace pgw::mask
