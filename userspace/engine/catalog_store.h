// The catalog snapshots policy decisions resolve names against, one per
// (upstream, database), loaded over pgwarden's own connection.
//
// Loading is blocking libpq work, so it runs on a thread of its own, never on
// a loop thread. A session whose catalog is not loaded yet does not read its
// client until it is (the first statement waits a moment rather than being
// decided blind: a view over a denied table would look like a harmless
// table). Snapshots are refreshed after DDL a session ran (once its
// transaction has ended, so the snapshot can see it) and on a timer;
// decisions use whatever snapshot is current.
//
// Refreshes after DDL are coalesced: one load once no DDL has asked for
// 100 ms, and at most 1 s after the first ask. A script of DDL then costs
// one load, not one per statement; and a load, whose snapshot holds back
// what VACUUM may mark all-visible for as long as it reads, does not start
// in the middle of such a script (CREATE TABLE, COPY, VACUUM) to leave the
// table's rows not all-visible and change the plans the script gets.
//
// A refresh never makes a client wait: the loader takes no lock a client
// could be queued behind (catalog_loader.h), a first load (sessions are
// waiting for it) goes before queued refreshes, and a load that failed or
// left definitions out for a client's lock runs again after a short delay
// (250 ms, doubling up to the refresh period) instead of waiting for it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "policy/catalog.h"
#include "policy/catalog_loader.h"

namespace pgw::engine {

class CatalogEntry {
 public:
  CatalogEntry(std::string upstream, policy::CatalogSource source)
      : upstream_(std::move(upstream)), source_(std::move(source)) {}
  std::shared_ptr<const policy::Catalog> current() const { return catalog_.load(std::memory_order_acquire); }
  // current()'s version() (0: none yet), without taking a reference: what
  // every Bind and Execute compares its decision against.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  bool ready() const { return ready_.load(std::memory_order_acquire); }
  const policy::CatalogSource& source() const { return source_; }

 private:
  friend class CatalogStore;
  std::string upstream_;  // the configured upstream's name
  policy::CatalogSource source_;
  std::atomic<std::shared_ptr<const policy::Catalog>> catalog_;
  std::atomic<std::uint64_t> version_{0};  // catalog_'s version, stored after it
  std::atomic<bool> ready_{false};  // a load finished (successfully or not)
  bool queued_ = false;
  std::string last_error_;
  // Loader thread only: what the next load can reuse, and when to retry.
  policy::DefinitionCache definitions_;
  bool definitions_deferred_ = false;  // the last load left some out
  std::chrono::milliseconds retry_delay_{0};
  std::optional<std::chrono::steady_clock::time_point> retry_at_;  // under CatalogStore::mu_
  // A refresh after DDL: when it is due, and when it was first asked for.
  std::optional<std::chrono::steady_clock::time_point> refresh_at_, refresh_asked_;  // under mu_
  std::vector<std::function<void()>> on_ready_;  // waiting sessions, called once
};

class CatalogStore {
 public:
  explicit CatalogStore(std::chrono::seconds refresh_every = std::chrono::seconds(60));
  ~CatalogStore();

  // The entry for this upstream and database, loading it if new. `on_ready`
  // runs (on the loader thread) once the first load has finished; it is not
  // kept when the entry is ready already (then it is not called).
  std::shared_ptr<CatalogEntry> get(const policy::Upstream& upstream, const std::string& database,
                                    std::function<void()> on_ready, bool& ready_now);
  // Asks for a fresh snapshot soon (after DDL; coalesced, see above).
  void refresh(const std::shared_ptr<CatalogEntry>& entry);
  // Every known snapshot, soon (after a config reload).
  void refresh_all();
  // Whether the sessions of an upstream (by name) need view definitions
  // and function bodies: true when a policy that can serve it masks
  // (column rules or detectors). Snapshots for an upstream that does not
  // are loaded without them, and so without taking any lock on a user
  // relation. Asked at every load, on the loader thread; unset, every
  // upstream wants them. After a reload that changes the answer, call
  // refresh_all(): until then a view is masked whole.
  void set_definitions_wanted(std::function<bool(const std::string& upstream)> wanted);
  // Called on the loader thread with each snapshot of an upstream (by name)
  // before sessions can see it: what must be ready with it (mask models) is
  // built here, off the loop threads.
  using LoadedHook = std::function<void(const std::string& upstream, std::shared_ptr<const policy::Catalog>)>;
  void set_on_loaded(LoadedHook hook);
  // Every snapshot sessions see now, with its upstream's name.
  void for_each_current(const LoadedHook& f);
  void stop();

  // Loads done and failed since start (for /metrics).
  uint64_t loads() const { return loads_.load(std::memory_order_relaxed); }
  uint64_t load_failures() const { return load_failures_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> loads_{0};
  std::atomic<uint64_t> load_failures_{0};
  void run();
  void enqueue(const std::shared_ptr<CatalogEntry>& entry);
  void load(const std::shared_ptr<CatalogEntry>& entry, std::unique_lock<std::mutex>& lock);
  // Entries whose retry or coalesced refresh is due go to the queue;
  // returns the next such time still ahead, if any.
  std::optional<std::chrono::steady_clock::time_point> enqueue_due();

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<std::string, std::string>, std::shared_ptr<CatalogEntry>> entries_;
  std::deque<std::shared_ptr<CatalogEntry>> queue_;
  bool stopping_ = false;
  std::function<bool(const std::string&)> definitions_wanted_;
  LoadedHook on_loaded_;
  const std::chrono::seconds refresh_every_;
  std::thread thread_;
};

}  // namespace pgw::engine
