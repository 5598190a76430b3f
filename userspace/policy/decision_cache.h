// A bounded cache of decisions, one per loop thread (no locks, no sharing).
//
// Key: the exact statement text plus a context of everything else that
// changes its meaning or its verdict: identity, upstream, policy version,
// catalog version and the session's SessionSqlState::meaning_key()
// (search paths, roles, standard_conforming_strings, encoding). Never a
// libpg_query fingerprint: fingerprints ignore constants, so
// set_config('role', 'a') and set_config('role', 'b') would share a verdict.
// Two texts share an entry only when they are byte for byte the same.
//
//   DecisionCache cache;                               // per loop thread
//   DecisionCache::Context ctx(identity, upstream, policy_version,
//                              catalog ? catalog->version() : 0, state.meaning_key());
//   if (const CachedDecision* hit = cache.find(ctx, text)) { ... }
//   else { Decision d = decide_sql(...); if (d.cacheable) cache.insert(ctx, text, d); }
//
// Rebuild the Context when any of its parts changes (the meaning key is a
// reference to a string the state rebuilds only after a change, so comparing
// it is cheap). A pointer from find() stays valid until the next insert().
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "policy/decision.h"

namespace pgw::policy {

// What the engine needs from a decision it has already made.
struct CachedDecision {
  Action action = Action::allow;
  bool changes_session = false;
  bool changes_catalog = false;
  bool confirm_settings = false;
  bool forwarded_unparsed = false;
  bool syntax_error = false;
  std::string sqlstate, message, detail;
  int position = 0;
  sql::ClassSet classes;  // of all its statements (for /metrics)
  // The facts SessionSqlState::apply() needs after forwarding (only when
  // changes_session; empty otherwise).
  std::shared_ptr<const std::vector<sql::StatementFacts>> effects;

  static CachedDecision from(const Decision& d);
  // Forwarded: tell the session state what changed.
  // asked_after as for SessionSqlState::apply.
  void apply_to(SessionSqlState& state, bool asked_after = false) const;
};

class DecisionCache {
 public:
  struct Limits {
    std::size_t max_entries = 16384;
    std::size_t max_bytes = 32u << 20;       // texts, contexts and cached messages
    std::size_t max_text_bytes = 16u << 10;  // longer statements are decided every time
  };

  class Context {
   public:
    Context(std::string_view identity, std::string_view upstream, std::uint64_t policy_version,
            std::uint64_t catalog_version, std::string_view meaning_key);
    const std::string& key() const { return key_; }
    std::size_t hash() const { return hash_; }

   private:
    std::string key_;
    std::size_t hash_ = 0;
  };

  DecisionCache() : DecisionCache(Limits{}) {}
  explicit DecisionCache(Limits limits);
  DecisionCache(const DecisionCache&) = delete;
  DecisionCache& operator=(const DecisionCache&) = delete;

  // nullptr on a miss. A hit becomes the most recently used entry.
  const CachedDecision* find(const Context& context, std::string_view text);
  // Stores d (if d.cacheable and the text is not too long), evicting the
  // least recently used entries past the limits.
  void insert(const Context& context, std::string_view text, const Decision& d);
  void clear();

  std::size_t size() const { return index_.size(); }
  std::size_t bytes() const { return bytes_; }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::shared_ptr<const std::string> context;  // shared by every entry of one context
    std::string text;
    std::size_t hash = 0;
    std::size_t bytes = 0;
    CachedDecision decision;
  };
  using List = std::list<Entry>;

  struct KeyView {
    std::string_view context;
    std::string_view text;
    std::size_t hash;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const KeyView& k) const { return k.hash; }
  };
  struct Equal {
    using is_transparent = void;
    bool operator()(const KeyView& a, const KeyView& b) const {
      return a.hash == b.hash && a.text == b.text && a.context == b.context;
    }
  };

  static std::size_t combine(std::size_t context_hash, std::string_view text);
  void evict_to_limits();
  std::shared_ptr<const std::string> intern_context(const Context& context);

  Limits limits_;
  List lru_;  // front: most recently used
  std::unordered_map<KeyView, List::iterator, Hash, Equal> index_;
  std::shared_ptr<const std::string> last_context_;  // most inserts repeat the previous context
  std::size_t bytes_ = 0;
  std::uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace pgw::policy
