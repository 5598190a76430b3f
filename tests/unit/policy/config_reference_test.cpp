// docs/configuration.md against the key table it documents: the generated
// tables are what the table renders today, every key path the prose names
// exists, and every documented default is the default the loader gives.
// PGW_UPDATE_DOCS=1 rewrites the generated part instead of failing on it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "mask/detector.h"
#include "policy/config_keys.h"
#include "policy/statement_class.h"

namespace pgw::policy {
namespace {

constexpr std::string_view kBegin = "<!-- BEGIN GENERATED KEY TABLES -->\n";
constexpr std::string_view kEnd = "<!-- END GENERATED KEY TABLES -->";

std::string read_doc() {
  std::ifstream in(PGW_CONFIG_REFERENCE, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::set<std::string> table_paths() {
  std::set<std::string> out;
  for (const KeyDoc& k : config_reference()) out.insert(k.path);
  return out;
}

// The key paths in the doc's key tables (tables whose header starts
// "| Key |"): the first cell of each row, "| `path` |".
std::set<std::string> documented_paths(const std::string& doc) {
  std::set<std::string> out;
  static const std::regex kRow(R"(^\| `([^`]+)` \|)");
  bool in_key_table = false;
  std::istringstream lines(doc);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("| Key |")) in_key_table = true;
    if (!line.starts_with("|")) in_key_table = false;
    std::smatch m;
    if (in_key_table && std::regex_search(line, m, kRow)) out.insert(m[1]);
  }
  return out;
}

TEST(ConfigReference, EveryKeyIsDocumentedAndEveryDocumentedKeyExists) {
  const std::string doc = read_doc();
  ASSERT_FALSE(doc.empty()) << "cannot read " << PGW_CONFIG_REFERENCE;
  const std::set<std::string> declared = table_paths();
  const std::set<std::string> documented = documented_paths(doc);
  for (const std::string& p : declared) {
    EXPECT_TRUE(documented.count(p)) << p << " is in the key table but not in docs/configuration.md";
  }
  for (const std::string& p : documented) {
    EXPECT_TRUE(declared.count(p)) << p << " is in docs/configuration.md but not in the key table";
  }
}

TEST(ConfigReference, GeneratedTablesMatchTheKeyTable) {
  std::string doc = read_doc();
  const size_t begin = doc.find(kBegin);
  const size_t end = doc.find(kEnd);
  ASSERT_NE(begin, std::string::npos) << "docs/configuration.md lost its " << kBegin;
  ASSERT_NE(end, std::string::npos) << "docs/configuration.md lost its " << kEnd;
  ASSERT_LT(begin, end);
  const size_t body = begin + kBegin.size();
  const std::string expected = render_config_reference();
  if (doc.compare(body, end - body, expected) == 0) return;
  if (std::getenv("PGW_UPDATE_DOCS") != nullptr) {
    doc.replace(body, end - body, expected);
    std::ofstream(PGW_CONFIG_REFERENCE, std::ios::binary) << doc;
    std::cout << "rewrote the generated tables of " << PGW_CONFIG_REFERENCE << "\n";
    return;
  }
  ADD_FAILURE() << "docs/configuration.md's key tables differ from the key table (userspace/policy/config_keys.cpp);"
                   " run with PGW_UPDATE_DOCS=1 to regenerate them. Expected:\n"
                << expected;
}

TEST(ConfigReference, DocumentedDefaultsAreTheRealDefaults) {
  size_t checked = 0;
  for (const KeyDoc& k : config_reference()) {
    EXPECT_EQ(k.default_mismatch, "") << k.path << " (documented default " << k.fallback << ")";
    if (!k.fallback.empty() && k.fallback.front() != '(' && k.fallback != "required") ++checked;
  }
  EXPECT_GE(checked, 20u);  // the check reads most defaults, not none
}

// Key paths the prose names (`intercept.ports`, `upstreams[].tls`) exist.
TEST(ConfigReference, ProseNamesOnlyKeysThatExist) {
  const std::string doc = read_doc();
  const std::set<std::string> declared = table_paths();
  std::set<std::string> tops;
  for (const std::string& p : declared) tops.insert(p.substr(0, p.find_first_of(".[")));
  static const std::regex kCode(R"(`([a-z_]+(?:\[\])?(?:\.[A-Za-z_0-9]+(?:\[\])?)+)`)");
  for (auto it = std::sregex_iterator(doc.begin(), doc.end(), kCode); it != std::sregex_iterator(); ++it) {
    const std::string path = (*it)[1];
    if (!tops.count(path.substr(0, path.find_first_of(".[")))) continue;  // `schema.table` and such
    EXPECT_TRUE(declared.count(path)) << "docs/configuration.md names `" << path << "`, which is no key";
  }
}

// `word`, built by appending (GCC 12 -O3 misreads `"`" + std::string` as an
// overlapping copy: -Wrestrict, bug 105329).
std::string code(std::string_view word) {
  std::string out(1, '`');
  out += word;
  out += '`';
  return out;
}

// The lists of words the doc spells out are the ones the loader accepts.
TEST(ConfigReference, StatementClassesAndDetectorsAreAllListed) {
  const std::string doc = read_doc();
  for (std::string_view c : kStatementClassNames) {
    EXPECT_NE(doc.find(code(c)), std::string::npos) << "statement class " << c;
  }
  for (size_t i = 0; i < mask::kDetectorCount; ++i) {
    const std::string_view name = mask::detector_name(static_cast<mask::Detector>(i));
    EXPECT_NE(doc.find(code(name)), std::string::npos) << "detector " << name;
  }
}

}  // namespace
}  // namespace pgw::policy
