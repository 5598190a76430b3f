#include <gtest/gtest.h>

#include <string>

#include "policy/glob.h"

namespace pgw::policy {
namespace {

bool cg(std::string_view pattern, std::string_view path) { return glob_match(pattern, path, '/'); }
bool sql(std::string_view pattern, std::string_view name) { return glob_match(pattern, name, '.'); }

TEST(Glob, LiteralPathsMatchExactly) {
  EXPECT_TRUE(cg("/", "/"));
  EXPECT_TRUE(cg("/agents/a1", "/agents/a1"));
  EXPECT_FALSE(cg("/agents/a1", "/agents/a2"));
  EXPECT_FALSE(cg("/agents/a1", "/agents/a1/sub"));
  EXPECT_FALSE(cg("/agents/a1", "/agents"));
  EXPECT_FALSE(cg("/Agents", "/agents"));  // case-sensitive
  EXPECT_TRUE(cg("", ""));
  EXPECT_FALSE(cg("", "/"));
}

TEST(Glob, StarStaysWithinOneSegment) {
  EXPECT_TRUE(cg("/agents/*", "/agents/a1"));
  EXPECT_TRUE(cg("/agents/*", "/agents/"));      // empty segment
  EXPECT_FALSE(cg("/agents/*", "/agents/a1/b"));
  EXPECT_FALSE(cg("/agents/*", "/agents"));
  EXPECT_TRUE(cg("/user.slice/user-*.slice/*", "/user.slice/user-1000.slice/session-3.scope"));
  EXPECT_FALSE(cg("/user.slice/user-*.slice", "/user.slice/user-1000/x.slice"));
  EXPECT_TRUE(cg("/a/*b*c*/d", "/a/xxbyycz/d"));
  EXPECT_FALSE(cg("/a/*b*c*/d", "/a/xxcyyb/d"));
  EXPECT_TRUE(cg("/a/**b", "/a/xb"));             // ** inside a segment is *
  EXPECT_FALSE(cg("/a/**b", "/a/x/b"));
}

TEST(Glob, QuestionMarkIsOneCharacterNotTheSeparator) {
  EXPECT_TRUE(cg("/agents/a?", "/agents/a1"));
  EXPECT_FALSE(cg("/agents/a?", "/agents/a"));
  EXPECT_FALSE(cg("/agents/a?", "/agents/a12"));
  EXPECT_FALSE(cg("/agents?a1", "/agents/a1"));
}

TEST(Glob, DoubleStarSpansSegmentsIncludingNone) {
  EXPECT_TRUE(cg("/agents/**", "/agents"));
  EXPECT_TRUE(cg("/agents/**", "/agents/a1"));
  EXPECT_TRUE(cg("/agents/**", "/agents/a1/b/c"));
  EXPECT_FALSE(cg("/agents/**", "/agentsX"));
  EXPECT_FALSE(cg("/agents/**", "/other/agents/a"));
  EXPECT_TRUE(cg("/**", "/"));
  EXPECT_TRUE(cg("/**", "/any/thing"));
  EXPECT_TRUE(cg("**", "/any/thing"));
  EXPECT_TRUE(cg("/**/job.scope", "/job.scope"));
  EXPECT_TRUE(cg("/**/job.scope", "/a/b/c/job.scope"));
  EXPECT_FALSE(cg("/**/job.scope", "/a/b/c/job.scope/x"));
  EXPECT_TRUE(cg("/a/**/b/**/c", "/a/b/c"));
  EXPECT_TRUE(cg("/a/**/b/**/c", "/a/x/b/y/z/c"));
  EXPECT_TRUE(cg("/a/**/b/**/c", "/a/b/b/b/c"));
  EXPECT_FALSE(cg("/a/**/b/**/c", "/a/x/c"));
  EXPECT_TRUE(cg("/kubepods/**/cri-*.scope", "/kubepods/burstable/pod1/cri-abc.scope"));
  EXPECT_TRUE(cg("/**/**", "/x"));
}

TEST(Glob, BackslashEscapesAWildcard) {
  EXPECT_TRUE(cg("/a\\*b", "/a*b"));
  EXPECT_FALSE(cg("/a\\*b", "/axb"));
  EXPECT_TRUE(cg("/a\\?", "/a?"));
  EXPECT_FALSE(cg("/a\\?", "/ab"));
}

TEST(Glob, DottedSqlNames) {
  EXPECT_TRUE(sql("hr.*", "hr.salaries"));
  EXPECT_FALSE(sql("hr.*", "hrx.salaries"));
  EXPECT_FALSE(sql("hr.*", "public.hr"));
  EXPECT_TRUE(sql("*.salaries", "hr.salaries"));
  EXPECT_TRUE(sql("public.customers.ssn", "public.customers.ssn"));
  EXPECT_TRUE(sql("*.*.ssn", "public.customers.ssn"));
  EXPECT_FALSE(sql("*.ssn", "public.customers.ssn"));
  EXPECT_TRUE(sql("**.ssn", "public.customers.ssn"));
  EXPECT_TRUE(sql("public.cust*.s?n", "public.customers.ssn"));
  // With '.' as the separator a '/' is an ordinary character, and vice versa.
  EXPECT_TRUE(sql("a/*", "a/b"));
  EXPECT_TRUE(cg("/a.*", "/a.b"));
}

TEST(Glob, PathologicalPatternsStayFast) {
  // An exponential matcher would not finish these.
  std::string text(2000, 'a');
  EXPECT_FALSE(cg("/*a*a*a*a*a*a*a*a*a*a*a*a*b", "/" + text));
  std::string deep;
  for (int i = 0; i < 500; ++i) deep += "/a";
  EXPECT_FALSE(cg("/**/a/**/a/**/a/**/a/**/a/**/b", deep));
  EXPECT_TRUE(cg("/**/a/**/a/**/a/**/a/**/a/**", deep));
}

// SQL names are matched part by part: the glob splits at unescaped dots, the
// name is given as its parts, so a dot inside a quoted name is part of it.
TEST(DottedGlob, SplitsAtUnescapedDotsOnly) {
  using Parts = std::vector<std::string_view>;
  EXPECT_EQ(split_dotted_glob("public.customers.ssn"), (Parts{"public", "customers", "ssn"}));
  EXPECT_EQ(split_dotted_glob("public.odd\\.table.e\\.mail"), (Parts{"public", "odd\\.table", "e\\.mail"}));
  EXPECT_EQ(split_dotted_glob("hr"), (Parts{"hr"}));
  EXPECT_EQ(split_dotted_glob("hr."), (Parts{"hr", ""}));
  EXPECT_EQ(split_dotted_glob(".x"), (Parts{"", "x"}));
  EXPECT_EQ(split_dotted_glob("a\\\\.b"), (Parts{"a\\\\", "b"}));  // an escaped backslash, then a dot
  EXPECT_EQ(split_dotted_glob("a\\"), (Parts{"a\\"}));
  EXPECT_TRUE(dotted_glob_spans(split_dotted_glob("**.ssn")));
  EXPECT_FALSE(dotted_glob_spans(split_dotted_glob("a**.b.c")));  // ** inside a part is *
}

TEST(DottedGlob, MatchesNamesPartByPart) {
  auto match = [](std::string_view pattern, std::vector<std::string_view> name) {
    return dotted_glob_match(pattern, name);
  };
  EXPECT_TRUE(match("hr.*", {"hr", "salaries"}));
  EXPECT_FALSE(match("hr.*", {"public", "hr"}));
  // A quoted name holding a dot is one part: * covers it, an escaped dot
  // names it, and it never reads as two parts.
  EXPECT_TRUE(match("public.*", {"public", "a.b"}));
  EXPECT_TRUE(match("public.odd\\.table.e\\.mail", {"public", "odd.table", "e.mail"}));
  EXPECT_FALSE(match("public.odd\\.table.e\\.mail", {"public", "oddxtable", "e.mail"}));
  EXPECT_TRUE(match("public.odd\\.table.**", {"public", "odd.table", "ssn"}));
  EXPECT_FALSE(match("a.b.c", {"a.b", "c"}));
  EXPECT_FALSE(match("hr.**", {"hr.x", "t"}));  // schema "hr.x" is not schema "hr"
  EXPECT_TRUE(match("**.secrets", {"hr", "secrets"}));
  EXPECT_FALSE(match("**.secrets", {"hr", "x.secrets"}));
  EXPECT_TRUE(match("**", {"a", "b", "c"}));
  EXPECT_TRUE(match("public.cust*.s?n", {"public", "customers", "ssn"}));
  EXPECT_FALSE(match("*.ssn", {"public", "customers", "ssn"}));
  EXPECT_TRUE(match("*.*.ssn", {"public", "customers", "ssn"}));
  EXPECT_TRUE(glob_part_match("a*", "a.b"));
  EXPECT_FALSE(glob_part_match("a?", "a.b"));
}

TEST(Glob, LiteralDetection) {
  EXPECT_TRUE(glob_is_literal("/agents/a1"));
  EXPECT_FALSE(glob_is_literal("/agents/*"));
  EXPECT_FALSE(glob_is_literal("hr.sal?ries"));
}

}  // namespace
}  // namespace pgw::policy
