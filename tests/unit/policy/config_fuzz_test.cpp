// Random YAML-ish input must never crash the loader, throw out of it, or hang:
// it returns a config or an error, within a bounded time. Seeds are fixed so a
// failure reproduces; the run is capped at about a second. For a longer local
// run: PGW_FUZZ_SECONDS=60 PGW_FUZZ_SEED=7 pgw_policy_tests --gtest_filter='ConfigFuzz.*'.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "policy/config.h"

namespace pgw::policy {
namespace {

// Fragments that steer the generator into the loader's interesting corners.
const std::vector<std::string> kTokens = {
    "listen", "unix_socket", "admin_socket", "intercept", "recording", "upstreams",
    "identities", "policies", "default", "workers", "max_message_size", "shutdown_grace",
    "log_level", "explicit_upstream", "cgroup", "ports", "fail", "bpffs", "dir", "name",
    "match", "address", "user", "password_file", "tls", "connect_timeout", "database",
    "uid", "gid", "comm", "source", "identity", "upstream", "allow", "deny", "approve",
    "tables", "mask", "column", "detect", "with", "approval", "timeout", "notify",
    "unparseable", "strict", ": ", ":", "- ", "-", "[", "]", "{", "}", ",", "\n", "\n  ",
    "\n    ", "\n      ", " ", "\"", "'", "&a ", "*a", "!!str ", "!!map ", "? ", "|", ">",
    "#", "%YAML 1.2\n", "---\n", "...\n", "~", "null", "true", "0", "5432", "-1",
    "99999999999999999999", "127.0.0.1:5432", "[::1]:5432", "10.0.0.0/8:5432", "::ffff:1.2.3.4",
    "/agents/**", "hr.*", "a.b.c", "partial(last=4)", "fixed('x')", "select", "function:f",
    "30s", "64MiB", "orders", "pw.pw", "\t", "\\", "\x01", "\xc3\xa9", "\xff",
};

std::string random_document(std::mt19937& rng) {
  std::uniform_int_distribution<size_t> len(1, 60);
  std::uniform_int_distribution<size_t> pick(0, kTokens.size() - 1);
  std::string doc;
  for (size_t i = 0, n = len(rng); i < n; ++i) doc += kTokens[pick(rng)];
  return doc;
}

// Small edits of a valid document reach deeper than random text does.
std::string mutate(std::string doc, std::mt19937& rng) {
  std::uniform_int_distribution<int> op(0, 3);
  std::uniform_int_distribution<size_t> pick(0, kTokens.size() - 1);
  for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0 && !doc.empty(); --edits) {
    size_t at = rng() % doc.size();
    switch (op(rng)) {
      case 0: doc.erase(at, 1 + rng() % 8); break;
      case 1: doc.insert(at, kTokens[pick(rng)]); break;
      case 2: doc[at] = static_cast<char>(rng() & 0xff); break;
      default: {
        size_t from = rng() % doc.size();
        doc.insert(at, doc.substr(from, 1 + rng() % 40));
      }
    }
  }
  return doc;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ConfigFuzz, GarbageNeverCrashesTheLoader) {
  const std::string example = read_file(PGW_EXAMPLE_CONFIG);
  ASSERT_FALSE(example.empty());
  const std::string example_dir =
      std::string(PGW_EXAMPLE_CONFIG).substr(0, std::string(PGW_EXAMPLE_CONFIG).rfind('/'));

  auto env_number = [](const char* name, unsigned long fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtoul(v, nullptr, 10) : fallback;
  };
  const unsigned long seed = env_number("PGW_FUZZ_SEED", 20240611);
  const unsigned long seconds = env_number("PGW_FUZZ_SECONDS", 1);
  const size_t max_runs = seconds > 1 ? SIZE_MAX : 20000;
  std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  size_t runs = 0, accepted = 0;
  for (; runs < max_runs && std::chrono::steady_clock::now() < deadline; ++runs) {
    std::string doc = (runs % 2 == 0) ? random_document(rng) : mutate(example, rng);
    Result<Config> r = load_config_string(doc, "fuzz.yaml", example_dir);
    if (r.ok()) {
      ++accepted;
    } else {
      // Every error names the file it came from.
      EXPECT_TRUE(r.error().starts_with("fuzz.yaml")) << r.error() << "\nfor:\n" << doc;
    }
  }
  std::cout << "fuzz: seed " << seed << ", " << runs << " documents, " << accepted
            << " accepted\n";
  EXPECT_GT(runs, 100u);  // the loop really ran
  // Mutations that only touch comments or spacing keep the example valid;
  // some must get through, or the mutator tests nothing but the parser.
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace pgw::policy
