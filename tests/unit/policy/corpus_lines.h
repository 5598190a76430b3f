// The policy corpus file (corpus/readonly_agent.tsv): one statement string
// per line, SQL <TAB> expected action <TAB> what the client's message must
// contain. Read by the corpus test and by the decision cache's differential
// test.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

namespace pgw::policy::testing {

struct CorpusLine {
  int line = 0;
  std::string sql;
  std::string action;
  std::string expect;  // substring of the client message; "-" for allow
};

inline std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char n = s[i + 1];
      if (n == 'n') { out += '\n'; ++i; continue; }
      if (n == 't') { out += '\t'; ++i; continue; }
      if (n == '\\') { out += '\\'; ++i; continue; }
    }
    out += s[i];
  }
  return out;
}

inline std::vector<CorpusLine> read_corpus(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::vector<CorpusLine> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    auto t1 = line.find('\t');
    auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos || line.find('\t', t2 + 1) != std::string::npos) {
      ADD_FAILURE() << path << ":" << n << ": expected SQL<TAB>action<TAB>message";
      continue;
    }
    out.push_back({n, unescape(line.substr(0, t1)), line.substr(t1 + 1, t2 - t1 - 1), line.substr(t2 + 1)});
  }
  return out;
}

}  // namespace pgw::policy::testing
