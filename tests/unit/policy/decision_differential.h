// The decision cache's differential check, shared by the unit test over the
// policy corpus (decision_differential_test.cpp) and the fuzz target
// `decision_cache` (tests/fuzz): the decision the cache returns for a text
// must be the one decide_sql() computes fresh, in the state the session is
// in when it is looked up. The cache keys on the exact text and the
// session's meaning_key(); if two states with one meaning key could decide
// a text differently — or two texts shared an entry — a cached decision
// would differ from a fresh one, and this check says where.
//
// A session runs the texts in order, as the engine does: decide fresh, look
// the text up (a hit must equal the fresh decision, effects included),
// insert on a miss, and apply what an allowed text changes. Running the
// same texts again in another order with the same cache reaches each text
// in states built along other paths: only the meaning key may tell them
// apart.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "policy/catalog.h"
#include "policy/config.h"
#include "policy/decision.h"
#include "policy/decision_cache.h"
#include "policy/session_protocol.h"
#include "policy/session_sql_state.h"

namespace pgw::policy::testing {

class DecisionDifferential {
 public:
  // `limits`: the cache's; a caller that runs a few texts per check (the
  // fuzz target) gives it room for just those, since the default reserves
  // the engine's 16,384 entries up front.
  DecisionDifferential(const Policy& policy, const Catalog& catalog, std::string identity,
                       DecisionCache::Limits limits = {})
      : policy_(policy), catalog_(catalog), identity_(std::move(identity)), cache_(limits) {}

  // Runs `texts` in one fresh session; "" when every hit agreed, else what
  // differed.
  std::string run_session(const std::vector<std::string_view>& texts) {
    SessionSqlState::Start start;
    start.login_user = "app_owner";
    start.search_path = catalog_.default_search_path();
    SessionSqlState state(start, protocol_);
    for (const std::string_view text : texts) {
      if (std::string why = step(state, text); !why.empty()) return why;
    }
    return {};
  }

  // Forward, backward, then each text twice in a row.
  std::string run_orders(std::vector<std::string_view> texts) {
    if (auto why = run_session(texts); !why.empty()) return why;
    std::reverse(texts.begin(), texts.end());
    if (auto why = run_session(texts); !why.empty()) return why;
    std::vector<std::string_view> twice;
    for (auto t : texts) twice.insert(twice.end(), {t, t});
    return run_session(twice);
  }

  const DecisionCache& cache() const { return cache_; }
  std::size_t compared() const { return compared_; }

 private:
  std::string step(SessionSqlState& state, std::string_view text) {
    const Decision fresh = decide_sql(policy_, text, state, &catalog_);
    const DecisionCache::Context context(identity_, "app", 1, catalog_.version(), state.meaning_key());
    if (const CachedDecision* hit = cache_.find(context, text)) {
      ++compared_;
      if (std::string why = differ(*hit, fresh, state); !why.empty())
        return "text " + quoted(text) + " in state " + state.describe() + ": cached and fresh decisions differ: " + why;
    } else {
      cache_.insert(context, text, fresh);
    }
    if (fresh.action == Action::allow) state.apply(fresh, fresh.confirm_settings);
    return {};
  }

  static std::string differ(const CachedDecision& hit, const Decision& fresh, const SessionSqlState& state) {
    if (!fresh.cacheable) return "a text whose fresh decision is not cacheable was found in the cache";
    const CachedDecision want = CachedDecision::from(fresh);
    auto field = [](const char* name, const auto& a, const auto& b) -> std::string {
      if (a == b) return {};
      return std::string(name) + " differs";
    };
    for (const std::string& why :
         {field("action", hit.action, want.action), field("changes_session", hit.changes_session, want.changes_session),
          field("changes_catalog", hit.changes_catalog, want.changes_catalog),
          field("confirm_settings", hit.confirm_settings, want.confirm_settings),
          field("forwarded_unparsed", hit.forwarded_unparsed, want.forwarded_unparsed),
          field("syntax_error", hit.syntax_error, want.syntax_error), field("sqlstate", hit.sqlstate, want.sqlstate),
          field("message", hit.message, want.message), field("detail", hit.detail, want.detail),
          field("position", hit.position, want.position), field("classes", hit.classes, want.classes)}) {
      if (!why.empty()) return why + " (cached: " + hit.message + " / fresh: " + want.message + ")";
    }
    // Effects: what the session becomes after the cached effects (the
    // engine's path on a hit) and after the fresh decision.
    if (fresh.action == Action::allow) {
      SessionSqlState by_cache(state), by_fresh(state);
      hit.apply_to(by_cache, hit.confirm_settings);
      by_fresh.apply(fresh, fresh.confirm_settings);
      if (by_cache.meaning_key() != by_fresh.meaning_key())
        return "the session after the cached effects (" + by_cache.describe() + ") is not the one after the fresh decision (" +
               by_fresh.describe() + ")";
    }
    return {};
  }

  static std::string quoted(std::string_view text) {
    return "\"" + std::string(text.substr(0, 200)) + (text.size() > 200 ? "...\"" : "\"");
  }

  const Policy& policy_;
  const Catalog& catalog_;
  std::string identity_;
  StandaloneProtocol protocol_;
  DecisionCache cache_;
  std::size_t compared_ = 0;
};

}  // namespace pgw::policy::testing
