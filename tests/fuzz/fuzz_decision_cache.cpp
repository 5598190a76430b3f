// Target `decision_cache`: the decision cache's differential check
// (tests/unit/policy/decision_differential.h) on generated statement lists.
// Input: byte 0 picks the policy (the corpus's readonly-agent, or one that
// allows settings and role changes so they take effect); the rest is up to
// kMaxTexts statement strings separated by NUL (the protocol cannot carry
// a NUL inside one). Each list runs in three orders with one cache; any
// cached decision that differs from the fresh one aborts with what
// differed. Four texts reach any state the cache key tells apart in one
// step (a role, a search_path, a setting, a transaction, and a statement
// judged in it; a text may hold several statements) and keep each input to
// at most 16 decisions, so a long run reaches millions of inputs.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "../unit/policy/decision_differential.h"
#include "../unit/policy/sample_catalog.h"
#include "fuzz_input.h"
#include "policy/config.h"

using namespace pgw;

namespace {

std::shared_ptr<const policy::Config> load(const std::string& yaml) {
  auto config = policy::load_config_string(yaml, "fuzz.yaml", "");
  if (!config.ok()) {
    std::fprintf(stderr, "decision_cache: %s\n", config.error().c_str());
    std::abort();
  }
  return std::make_shared<const policy::Config>(std::move(config.value()));
}

constexpr size_t kMaxTexts = 4;

const std::string kUpstreams =
    "upstreams:\n"
    "  - name: app\n"
    "    match: [\"127.0.0.1:5432\"]\n"
    "    address: 127.0.0.1:5432\n"
    "    user: app_owner\n"
    "identities:\n"
    "  - name: agent\n"
    "    match: { uid: [1000] }\n"
    "policies:\n"
    "  - identity: agent\n"
    "    upstream: app\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // readonly-agent.yaml's rules, and a permissive policy.
  static const auto readonly = load(kUpstreams +
                                    "    allow: [select, copy_to, transaction, set, prepare, execute, deallocate]\n"
                                    "    deny: [insert, update, delete, merge, copy_from, truncate, ddl, grant, role,\n"
                                    "           procedural, admin, lock, listen, notify, function:pg_read_file]\n"
                                    "    tables: { deny: [\"hr.*\"] }\n");
  static const auto permissive = load(kUpstreams +
                                      "    allow: [select, set, role, transaction, prepare, execute, deallocate,\n"
                                      "            copy_to, lock, listen, procedural]\n"
                                      "    tables: { deny: [\"hr.*\"], allow: [\"public.*\", \"pg_catalog.*\"] }\n");
  static const auto catalog = policy::testing::sample_catalog();
  fuzz::FuzzInput input(data, size);
  const auto& config = (input.byte() & 1) ? permissive : readonly;
  std::vector<std::string_view> texts;
  while (!input.empty() && texts.size() < kMaxTexts) texts.push_back(input.until('\0'));
  policy::DecisionCache::Limits limits;
  limits.max_entries = 4 * kMaxTexts;  // every decision of the check, and no more reserved
  policy::testing::DecisionDifferential check(config->policies.at(0), *catalog, "agent", limits);
  const std::string why = check.run_orders(texts);
  if (!why.empty()) {
    std::fprintf(stderr, "decision_cache: %s\n", why.c_str());
    std::abort();
  }
  return 0;
}
