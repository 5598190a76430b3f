// The web console's embedded files: served as they are in the tree, with the
// right types, and written so that the page's strict Content-Security-Policy
// (script-src 'self', style-src 'self', no inline code) never breaks it.
#include "admin/console_assets.h"

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace pgw::admin {
namespace {

std::string from_tree(const std::string& name) {
  std::ifstream in(std::string(PGW_CONSOLE_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string served(std::string_view path) {
  auto asset = console_asset(path);
  EXPECT_TRUE(asset.has_value()) << path;
  return asset ? std::string(asset->body) : std::string();
}

std::vector<std::string> matches(const std::string& text, const std::regex& re, int group = 0) {
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) out.push_back((*it)[group].str());
  return out;
}

TEST(ConsoleAssets, ServesThePageAndItsFilesAsTheyAreInTheTree) {
  struct Case {
    std::string_view path;
    std::string file;
    std::string_view type;
  };
  for (const Case& c : {Case{"/", "index.html", "text/html; charset=utf-8"},
                        Case{"/index.html", "index.html", "text/html; charset=utf-8"},
                        Case{"/console.js", "console.js", "text/javascript; charset=utf-8"},
                        Case{"/console.css", "console.css", "text/css; charset=utf-8"}}) {
    auto asset = console_asset(c.path);
    ASSERT_TRUE(asset.has_value()) << c.path;
    EXPECT_EQ(asset->content_type, c.type) << c.path;
    std::string expected = from_tree(c.file);
    EXPECT_FALSE(expected.empty()) << c.file;
    EXPECT_EQ(asset->body, expected) << c.path << " differs from " << c.file;
  }
}

TEST(ConsoleAssets, IgnoresAQueryStringOrFragment) {
  EXPECT_EQ(served("/console.js?v=2"), served("/console.js"));
  EXPECT_EQ(served("/?token=x"), served("/index.html"));
  EXPECT_EQ(served("/#token=x"), served("/index.html"));
}

TEST(ConsoleAssets, ServesNothingElse) {
  for (std::string_view path : {"", "index.html", "console.js", "/console.js/", "/../console.js", "//console.js",
                                "/CONSOLE.JS", "/favicon.ico", "/v1/approvals", "/console.css.map", "/index.htm"})
    EXPECT_FALSE(console_asset(path).has_value()) << path;
}

TEST(ConsoleAssets, PageLoadsOnlyItsOwnFilesAndHasNoInlineCodeOrStyle) {
  const std::string html = served("/");
  const auto icase = std::regex::ECMAScript | std::regex::icase;

  // Every script is an external file of ours, with nothing between its tags.
  std::regex script(R"(<script\b([^>]*)>([\s\S]*?)</script\s*>)", icase);
  auto scripts = matches(html, script);
  EXPECT_EQ(scripts.size(), matches(html, std::regex("<script", icase)).size()) << "a <script> without its end tag";
  EXPECT_FALSE(scripts.empty());
  for (std::sregex_iterator it(html.begin(), html.end(), script), end; it != end; ++it) {
    EXPECT_TRUE(std::regex_search((*it)[1].str(), std::regex(R"(\bsrc\s*=)", icase))) << it->str();
    EXPECT_TRUE(std::regex_match((*it)[2].str(), std::regex(R"(\s*)"))) << "inline script: " << it->str();
  }
  EXPECT_NE(html.find(R"(<script src="console.js" defer></script>)"), std::string::npos);
  EXPECT_NE(html.find(R"(<link rel="stylesheet" href="console.css">)"), std::string::npos);

  // No inline style, no event-handler attribute, no javascript: URL.
  EXPECT_EQ(matches(html, std::regex("<style", icase)), std::vector<std::string>{});
  EXPECT_EQ(matches(html, std::regex(R"(\sstyle\s*=)", icase)), std::vector<std::string>{});
  EXPECT_EQ(matches(html, std::regex(R"(\son[a-z]+\s*=)", icase)), std::vector<std::string>{});
  EXPECT_EQ(matches(html, std::regex("javascript:", icase)), std::vector<std::string>{});
  // Nothing the policy forbids or that would load from elsewhere.
  for (const char* tag : {"<form", "<base", "<iframe", "<frame", "<object", "<embed", "<img", "<meta http-equiv"})
    EXPECT_EQ(matches(html, std::regex(tag, icase)), std::vector<std::string>{}) << tag;

  // Every src and href is quoted and relative ('self'), or data: (img-src allows it).
  auto urls = matches(html, std::regex(R"(\b(?:src|href)\s*=\s*"([^"]*)\")", icase), 1);
  EXPECT_EQ(urls.size(), matches(html, std::regex(R"(\b(?:src|href)\s*=)", icase)).size()) << "an unquoted URL";
  for (const std::string& url : urls) {
    bool relative = url.find(':') == std::string::npos && !url.starts_with("//") && !url.empty();
    EXPECT_TRUE(relative || url.starts_with("data:")) << url;
  }
}

TEST(ConsoleAssets, ScriptBuildsTheDomFromTextAndLoadsNothingElsewhere) {
  const std::string js = served("/console.js");
  // SQL and identities are attacker-controlled: no HTML parsing, no code from strings.
  for (const char* bad : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                          "setTimeout('", "setTimeout(\"", "DOMParser", "createContextualFragment", "javascript:",
                          "'style'", "\"style\"", ".style.", "http://", "https://", "XMLHttpRequest"})
    EXPECT_EQ(js.find(bad), std::string::npos) << bad;
  const std::string css = served("/console.css");
  for (const char* bad : {"@import", "url(", "http:", "https:", "expression("})
    EXPECT_EQ(css.find(bad), std::string::npos) << bad;
}

TEST(ConsoleAssets, PageHasTheHooksTheBrowserTestUses) {
  const std::string html = served("/");
  for (const char* id : {"approvals", "sessions", "decisions", "message", "whoami"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  const std::string js = served("/console.js");
  for (const char* hook : {"'approve'", "'approve-for'", "'deny'", "'for-duration'", "'deny-reason'",
                           "'data-approval-id'", "'Bearer '", "sessionStorage", "history.replaceState"})
    EXPECT_NE(js.find(hook), std::string::npos) << hook;
}

}  // namespace
}  // namespace pgw::admin
