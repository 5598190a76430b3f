#include "engine/cgroup_resolver.h"

namespace pgw::engine {

CgroupResolver::CgroupResolver(kernel::Cgroup2 cgroup2, size_t capacity)
    : cgroup2_(std::move(cgroup2)), capacity_(capacity), thread_([this] { run(); }) {}

CgroupResolver::~CgroupResolver() { stop(); }

void CgroupResolver::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> CgroupResolver::cached(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return std::nullopt;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void CgroupResolver::resolve(uint64_t id, std::function<void(std::string)> done) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(id, std::move(done));
  }
  cv_.notify_one();
}

size_t CgroupResolver::size() const {
  std::lock_guard lock(mu_);
  return index_.size();
}

void CgroupResolver::remember(uint64_t id, const std::string& path) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(id); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(id, path);
  index_[id] = lru_.begin();
  while (index_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void CgroupResolver::run() {
  for (;;) {
    std::pair<uint64_t, std::function<void(std::string)>> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    // Several sessions of one new cgroup ask at once: the first answer
    // serves the rest from the cache.
    std::string path;
    if (auto hit = cached(job.first)) {
      path = std::move(*hit);
    } else if (auto found = cgroup2_.path_of(job.first); found.ok()) {
      path = *found;
      remember(job.first, path);
    }
    job.second(std::move(path));
  }
}

}  // namespace pgw::engine
