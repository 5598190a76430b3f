#include "engine/catalog_store.h"

#include <spdlog/spdlog.h>

namespace pgw::engine {

CatalogStore::CatalogStore(std::chrono::seconds refresh_every) : refresh_every_(refresh_every) {
  thread_ = std::thread([this] { run(); });
}

CatalogStore::~CatalogStore() { stop(); }

void CatalogStore::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<CatalogEntry> CatalogStore::get(const policy::Upstream& upstream, const std::string& database,
                                                std::function<void()> on_ready, bool& ready_now) {
  std::lock_guard lock(mu_);
  auto key = std::make_pair(upstream.name, database);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    auto entry = std::make_shared<CatalogEntry>(upstream.name, policy::catalog_source(upstream, database));
    it = entries_.emplace(key, entry).first;
    entry->queued_ = true;
    queue_.push_front(entry);  // sessions wait for it: before any refresh
    cv_.notify_all();
  }
  const auto& entry = it->second;
  ready_now = entry->ready();
  if (!ready_now) entry->on_ready_.push_back(std::move(on_ready));
  return entry;
}

namespace {
constexpr std::chrono::milliseconds kFirstRetry{250};
constexpr std::chrono::milliseconds kRefreshSettle{100};   // quiet time after the last DDL
constexpr std::chrono::milliseconds kRefreshAtMost{1000};  // after the first
}  // namespace

void CatalogStore::refresh(const std::shared_ptr<CatalogEntry>& entry) {
  std::lock_guard lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!entry->refresh_asked_) entry->refresh_asked_ = now;
  entry->refresh_at_ = std::min(now + kRefreshSettle, *entry->refresh_asked_ + kRefreshAtMost);
  cv_.notify_all();  // the loader's next wake-up may be earlier now
}

void CatalogStore::refresh_all() {
  std::lock_guard lock(mu_);
  for (auto& [key, entry] : entries_) enqueue(entry);
}

void CatalogStore::set_on_loaded(LoadedHook hook) {
  std::lock_guard lock(mu_);
  on_loaded_ = std::move(hook);
}

void CatalogStore::for_each_current(const LoadedHook& f) {
  std::vector<std::pair<std::string, std::shared_ptr<const policy::Catalog>>> current;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, entry] : entries_) {
      if (auto c = entry->current()) current.emplace_back(entry->upstream_, std::move(c));
    }
  }
  for (const auto& [upstream, catalog] : current) f(upstream, catalog);
}

void CatalogStore::set_definitions_wanted(std::function<bool(const std::string& upstream)> wanted) {
  std::lock_guard lock(mu_);
  definitions_wanted_ = std::move(wanted);
}

void CatalogStore::enqueue(const std::shared_ptr<CatalogEntry>& entry) {
  if (entry->queued_) return;
  entry->queued_ = true;
  queue_.push_back(entry);
  cv_.notify_all();
}

std::optional<std::chrono::steady_clock::time_point> CatalogStore::enqueue_due() {
  const auto now = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> next;
  for (auto& [key, entry] : entries_) {
    for (auto* due : {&entry->retry_at_, &entry->refresh_at_}) {
      if (!*due) continue;
      if (**due <= now) {
        due->reset();
        if (due == &entry->refresh_at_) entry->refresh_asked_.reset();
        enqueue(entry);
      } else if (!next || **due < *next) {
        next = *due;
      }
    }
  }
  return next;
}

void CatalogStore::run() {
  auto next_refresh = std::chrono::steady_clock::now() + refresh_every_;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto next_due = enqueue_due();
    if (queue_.empty()) {
      const auto wake = next_due ? std::min(*next_due, next_refresh) : next_refresh;
      // A refresh() notifies too: its time may be before `wake`.
      cv_.wait_until(lock, wake);
      if (stopping_) break;
      if (queue_.empty() && std::chrono::steady_clock::now() >= next_refresh) {
        // The timer: every known catalog gets a fresh snapshot.
        for (auto& [key, entry] : entries_) enqueue(entry);
        next_refresh = std::chrono::steady_clock::now() + refresh_every_;
      }
      continue;
    }
    auto entry = queue_.front();
    queue_.pop_front();
    entry->queued_ = false;
    load(entry, lock);
  }
}

// Called with `lock` held; loads without it.
void CatalogStore::load(const std::shared_ptr<CatalogEntry>& entry, std::unique_lock<std::mutex>& lock) {
  policy::CatalogSource source = entry->source();
  const auto wanted = definitions_wanted_;
  const auto on_loaded = on_loaded_;
  lock.unlock();
  source.print_definitions = !wanted || wanted(entry->upstream_);
  const auto started = std::chrono::steady_clock::now();
  auto loaded = policy::load_catalog(source, entry->definitions_);
  (loaded ? loads_ : load_failures_).fetch_add(1, std::memory_order_relaxed);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  if (loaded && on_loaded) on_loaded(entry->upstream_, loaded->catalog);
  lock.lock();
  bool again = !loaded;
  if (loaded) {
    entry->catalog_.store(loaded->catalog, std::memory_order_release);
    entry->version_.store(loaded->catalog->version(), std::memory_order_release);
    entry->last_error_.clear();
    spdlog::debug("catalog of {}/{} loaded in {} ms: {} relations, definitions {} printed, {} reused, {} deferred",
                  entry->source().host, entry->source().dbname, ms, loaded->catalog->relation_count(),
                  loaded->printed, loaded->reused, loaded->deferred);
    if (loaded->deferred > 0) {
      // Masking treats what is missing as fully masked (views) or opaque
      // (functions) until a later load prints it.
      again = true;
      spdlog::info("catalog of database \"{}\": {} definition(s) left for later, e.g. {}", entry->source().dbname,
                   loaded->deferred, loaded->deferred_example);
    } else if (entry->definitions_deferred_) {
      spdlog::info("catalog of database \"{}\": the definitions left for later are printed", entry->source().dbname);
    }
    entry->definitions_deferred_ = loaded->deferred > 0;
  } else if (entry->last_error_ != loaded.error()) {
    // Decisions go on without a catalog, which is stricter, not looser.
    entry->last_error_ = loaded.error();
    spdlog::warn("catalog of database \"{}\" could not be loaded: {}", entry->source().dbname, loaded.error());
  }
  if (again) {
    entry->retry_delay_ = entry->retry_delay_.count() == 0
                              ? kFirstRetry
                              : std::min<std::chrono::milliseconds>(entry->retry_delay_ * 2, refresh_every_);
    entry->retry_at_ = std::chrono::steady_clock::now() + entry->retry_delay_;
  } else {
    entry->retry_delay_ = std::chrono::milliseconds(0);
    entry->retry_at_.reset();
  }
  entry->ready_.store(true, std::memory_order_release);
  auto waiting = std::move(entry->on_ready_);
  entry->on_ready_.clear();
  lock.unlock();
  for (auto& f : waiting) f();
  lock.lock();
}

}  // namespace pgw::engine
