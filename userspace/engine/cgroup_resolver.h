// cgroup ids (from the eBPF connect record) to cgroup paths, resolved off the
// loop threads.
//
// A path is found by opening the cgroup by its kernel handle, or, without
// CAP_DAC_READ_SEARCH, by walking the whole cgroup tree: either is a blocking
// file system operation that may take a while on a busy node, so loop threads
// only look the id up; a miss is resolved on the resolver's own thread and
// the session continues when it is done. Ids are never reused (a new cgroup
// gets a new one), so a path once found stays true; the cache forgets the
// least recently used ids past its bound, since ids of removed cgroups are
// never asked for again.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kernel/cgroup_v2.h"

namespace pgw::engine {

class CgroupResolver {
 public:
  static constexpr size_t kDefaultCapacity = 16384;

  explicit CgroupResolver(kernel::Cgroup2 cgroup2, size_t capacity = kDefaultCapacity);
  ~CgroupResolver();
  CgroupResolver(const CgroupResolver&) = delete;
  CgroupResolver& operator=(const CgroupResolver&) = delete;

  // The path of a cgroup already resolved; nothing on a miss. Any thread.
  std::optional<std::string> cached(uint64_t id);
  // Resolves on the resolver's thread and calls `done` there with the path
  // (empty when the cgroup is gone). Any thread.
  void resolve(uint64_t id, std::function<void(std::string)> done);
  void stop();

  size_t size() const;

 private:
  void run();
  void remember(uint64_t id, const std::string& path);

  kernel::Cgroup2 cgroup2_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  // Least recently used at the back.
  std::list<std::pair<uint64_t, std::string>> lru_;
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, std::string>>::iterator> index_;
  std::deque<std::pair<uint64_t, std::function<void(std::string)>>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgw::engine
