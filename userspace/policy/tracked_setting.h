// One session setting as pgwarden can know it: not a single value but every
// value that may be in effect, because settings are transactional and the
// engine decides on a statement before the server has run the ones before it.
//
//   BEGIN; SET search_path = public; ROLLBACK;   -- back to the old path
//   SET search_path = public; SELECT 1/0         -- one implicit transaction: rolled back
//   Query "SET ..." then, pipelined, Query "SELECT ..."   -- the SET may still fail
//
// A value applied by a forwarded statement is *pending* until the server's
// ReadyForQuery says how its transaction ended:
//   - idle ('I') after a transaction with no error and no ROLLBACK: the last
//     session-level value (not SET LOCAL) is now the only one;
//   - idle after an error or a ROLLBACK: any of them may be (they are kept
//     as candidates, with the values from before);
//   - still in a transaction ('T'/'E'): nothing settles yet.
// While nothing is outstanding (every cycle the engine forwarded has been
// answered) and the transaction has been clean so far, the latest pending
// value is certain: that is the interactive case, where it costs nothing.
//
// A value set by a set_config() call may also never have been set at all
// (`SELECT set_config(...) WHERE false`, a CASE branch not taken): it is
// applied as *possible*, next to the values before it, never instead of them.
//
// Candidates are bounded: past kMaxCandidates the owner replaces them with
// its "unknown" value (SessionSqlState does), which decides the safe way.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

namespace pgw::policy {

template <typename T>
class TrackedSetting {
 public:
  static constexpr std::size_t kMaxCandidates = 8;

  explicit TrackedSetting(T initial) : settled_{std::move(initial)} {}

  // A value that took effect for certain (ParameterStatus, a session start,
  // or a statement earlier in the same SQL string when simulating it).
  void set_certain(T value) {
    settled_.assign(1, std::move(value));
    pending_.clear();
  }

  // The server reported the value (ParameterStatus) while answering cycle
  // `cycle`: it holds now; values applied by later cycles are still pending.
  void set_reported(T value, std::uint64_t cycle) {
    settled_.assign(1, std::move(value));
    std::size_t n = 0;
    while (n < pending_.size() && pending_[n].cycle <= cycle) ++n;
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // A forwarded statement set the value; `cycle` is the engine's count of
  // ReadyForQuery-terminated cycles sent before this statement's cycle.
  // possible: the statement may not have set it even if it succeeded.
  void apply(T value, bool local, std::uint64_t cycle, bool possible = false) {
    add_pending(std::move(value), local ? kLocal : kSession, cycle, possible);
  }

  // A transaction ended while the server answered cycle `cycle`, and
  // another is open (COMMIT AND CHAIN): which of the cycle's values outlive
  // it is not known, so every one of them, SET LOCAL included, is kept
  // beside the settled ones.
  void keep_every_value_of(std::uint64_t cycle) {
    std::size_t n = 0;
    while (n < pending_.size() && pending_[n].cycle <= cycle) add_settled(pending_[n++].value);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // Forgets possible values applied by cycles up to `cycle`: for a setting
  // the server reports whenever it changes, one it did not report was not
  // set (the report, set_reported, comes before the cycle's ReadyForQuery).
  void drop_possible_through(std::uint64_t cycle) {
    std::erase_if(pending_, [&](const Pending& p) { return p.possible && p.cycle <= cycle; });
  }

  // A value that may have taken effect just now, after every cycle
  // answered so far (a WITH HOLD cursor's query, run at COMMIT).
  void add_possible(T value) { add_settled(std::move(value)); }

  // ---- simulating the rest of one SQL string (decide() on a private copy) ----
  // The server runs a string's statements in order and stops at the first
  // failure, so for the statements after a SET its value is certain; but a
  // COMMIT, ROLLBACK or ROLLBACK TO SAVEPOINT in the string may undo or end
  // what the string set before it (SET LOCAL ends with its transaction).
  // `now` is candidates() at the protocol's position.

  // A statement earlier in the string set the value (possible: it may not
  // have, see above).
  void simulate_set(T value, bool possible, const std::vector<T>& now) {
    for (const auto& v : now) add_unique(seen_in_string_, v);
    add_unique(seen_in_string_, value);
    settled_ = possible ? now : std::vector<T>{};
    add_unique(settled_, std::move(value));
    pending_.clear();
  }
  // A statement earlier in the string ended a transaction or rolled back to
  // a savepoint: any value the string had, or started with, may be in effect.
  void simulate_transaction_end(const std::vector<T>& now) {
    settled_ = now;
    for (const auto& v : seen_in_string_) add_unique(settled_, v);
    pending_.clear();
  }

  // The server said what the value is after a statement of cycle `cycle`
  // that may have changed it unseen (the engine asked; nothing ran since).
  // The placeholder `unknown` that statement applied is replaced. certain:
  // the statement's transaction has ended, so the value holds; else it may
  // have been set for the session or only for the transaction (SET LOCAL
  // inside a function), and after a commit either value may be in effect.
  void confirm(T value, const T& unknown, std::uint64_t cycle, bool certain) {
    std::erase_if(pending_, [&](const Pending& p) { return p.cycle == cycle && p.value == unknown; });
    if (certain) {
      set_certain(std::move(value));
      return;
    }
    add_pending(std::move(value), kEither, cycle);
  }

  // The server answered cycle `cycle` with ReadyForQuery(status); `clean`:
  // no ErrorResponse and no ROLLBACK since the last idle ReadyForQuery.
  void on_ready_for_query(char status, bool clean, std::uint64_t cycle) {
    if (status != 'I') return;
    std::size_t n = 0;
    while (n < pending_.size() && pending_[n].cycle <= cycle) ++n;
    if (n == 0) return;
    if (clean) {
      // The last session-level value holds, or any value that may have
      // been one after it.
      for (std::size_t i = 0; i < n; ++i) {
        if (pending_[i].scope == kLocal) continue;
        if (pending_[i].scope == kSession && !pending_[i].possible) settled_.assign(1, pending_[i].value);
        else add_settled(pending_[i].value);
      }
    } else {
      for (std::size_t i = 0; i < n; ++i)
        if (pending_[i].scope != kLocal) add_settled(pending_[i].value);
    }
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  // Every value that may be in effect now, without duplicates.
  std::vector<T> candidates(bool nothing_outstanding, bool transaction_clean) const {
    if (pending_.empty()) return settled_;
    if (nothing_outstanding && transaction_clean) {
      // The latest value that was surely set, and every possible one after it.
      std::size_t sure = pending_.size();
      while (sure > 0 && pending_[sure - 1].possible) --sure;
      std::vector<T> out = sure > 0 ? std::vector<T>{pending_[sure - 1].value} : settled_;
      for (std::size_t i = sure; i < pending_.size(); ++i) add_unique(out, pending_[i].value);
      return out;
    }
    std::vector<T> out = settled_;
    for (const auto& p : pending_)
      if (std::find(out.begin(), out.end(), p.value) == out.end()) out.push_back(p.value);
    return out;
  }

  // The value most likely in effect (for display): the latest applied.
  const T& latest() const { return pending_.empty() ? settled_.back() : pending_.back().value; }

  bool has_pending() const { return !pending_.empty(); }
  std::size_t size() const { return settled_.size() + pending_.size(); }

 private:
  enum Scope : std::uint8_t { kSession, kLocal, kEither };
  struct Pending {
    T value;
    Scope scope;
    std::uint64_t cycle;
    bool possible = false;  // may not have been set at all (see apply)
  };
  // An earlier entry of the same cycle with the same value and scope says
  // nothing the new one does not (within a cycle only the set of values and
  // the last one count): drop it, so repeating a SET does not grow the
  // candidates.
  void add_pending(T value, Scope scope, std::uint64_t cycle, bool possible = false) {
    std::erase_if(pending_, [&](const Pending& p) {
      return p.cycle == cycle && p.scope == scope && p.possible == possible && p.value == value;
    });
    pending_.push_back({std::move(value), scope, cycle, possible});
  }
  static void add_unique(std::vector<T>& values, T v) {
    if (std::find(values.begin(), values.end(), v) == values.end()) values.push_back(std::move(v));
  }
  void add_settled(const T& v) { add_unique(settled_, v); }
  std::vector<T> settled_;  // never empty
  std::vector<Pending> pending_;
  std::vector<T> seen_in_string_;  // only on decide()'s private copy
};

}  // namespace pgw::policy
