#include "policy/decision_cache.h"

#include <functional>

namespace pgw::policy {
namespace {

void append_part(std::string& key, std::string_view part) {
  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  key += std::to_string(part.size());
  key += ':';
  key += part;
}

}  // namespace

CachedDecision CachedDecision::from(const Decision& d) {
  CachedDecision c;
  c.action = d.action;
  c.changes_session = d.changes_session;
  c.changes_catalog = d.changes_catalog;
  c.confirm_settings = d.confirm_settings;
  c.forwarded_unparsed = d.forwarded_unparsed;
  c.syntax_error = d.syntax_error;
  c.sqlstate = d.sqlstate;
  c.message = d.message;
  c.detail = d.detail;
  c.position = d.position;
  for (const auto& st : d.statements) c.classes.add(st.facts.classes);
  if (d.changes_session) {
    auto effects = std::make_shared<std::vector<sql::StatementFacts>>();
    for (const auto& st : d.statements) effects->push_back(st.facts);
    c.effects = std::move(effects);
  }
  return c;
}

void CachedDecision::apply_to(SessionSqlState& state, bool asked_after) const {
  if (!effects) return;
  for (const auto& f : *effects) state.apply(f, asked_after);
}

DecisionCache::Context::Context(std::string_view identity, std::string_view upstream, std::uint64_t policy_version,
                                std::uint64_t catalog_version, std::string_view meaning_key) {
  append_part(key_, identity);
  append_part(key_, upstream);
  append_part(key_, std::to_string(policy_version));
  append_part(key_, std::to_string(catalog_version));
  append_part(key_, meaning_key);
  hash_ = std::hash<std::string_view>{}(key_);
}

DecisionCache::DecisionCache(Limits limits) : limits_(limits) { index_.reserve(limits_.max_entries); }

std::size_t DecisionCache::combine(std::size_t context_hash, std::string_view text) {
  const std::size_t h = std::hash<std::string_view>{}(text);
  return context_hash ^ (h + 0x9e3779b97f4a7c15ull + (context_hash << 6) + (context_hash >> 2));
}

const CachedDecision* DecisionCache::find(const Context& context, std::string_view text) {
  const KeyView key{context.key(), text, combine(context.hash(), text)};
  auto it = index_.find(key);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  if (it->second != lru_.begin()) lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->decision;
}

std::shared_ptr<const std::string> DecisionCache::intern_context(const Context& context) {
  if (!last_context_ || *last_context_ != context.key())
    last_context_ = std::make_shared<const std::string>(context.key());
  return last_context_;
}

void DecisionCache::insert(const Context& context, std::string_view text, const Decision& d) {
  if (!d.cacheable || text.size() > limits_.max_text_bytes || limits_.max_entries == 0) return;
  const std::size_t hash = combine(context.hash(), text);
  if (auto it = index_.find(KeyView{context.key(), text, hash}); it != index_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  Entry e;
  e.context = intern_context(context);
  e.text.assign(text);
  e.hash = hash;
  e.decision = CachedDecision::from(d);
  // An estimate: the strings, the list node and the index slot.
  e.bytes = e.text.size() + e.decision.message.size() + e.decision.detail.size() + sizeof(Entry) + 64;
  if (e.decision.effects) e.bytes += 512 * e.decision.effects->size();
  lru_.push_front(std::move(e));
  Entry& stored = lru_.front();
  index_.emplace(KeyView{*stored.context, stored.text, stored.hash}, lru_.begin());
  bytes_ += stored.bytes;
  evict_to_limits();
}

void DecisionCache::evict_to_limits() {
  while (!lru_.empty() && (index_.size() > limits_.max_entries || bytes_ > limits_.max_bytes)) {
    Entry& victim = lru_.back();
    index_.erase(KeyView{*victim.context, victim.text, victim.hash});
    bytes_ -= victim.bytes;
    lru_.pop_back();
  }
}

void DecisionCache::clear() {
  index_.clear();
  lru_.clear();
  bytes_ = 0;
}

}  // namespace pgw::policy
