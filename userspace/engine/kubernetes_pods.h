// The pods of this node as the Kubernetes API server describes them, keyed
// by uid: what `k8s:` identity selectors are matched against.
//
// The watch thread (kubernetes_watch.h) is the only writer; loop threads
// read. A change copies the map and publishes the copy (a node runs a few
// hundred pods at most), so a lookup is one atomic load and a hash probe:
// no loop thread ever waits for the API server or for the writer.
//
// A pod missing from the map is reported with the reason, for the FATAL a
// default-deny policy sends: the list is not loaded yet, the API server is
// unreachable (and the pod was not cached before it went away), or the API
// server does not know the pod on this node. A pod cached before the API
// server went away stays resolved with what was last known.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "policy/kubernetes_pod.h"

namespace pgw::engine {

class KubernetesPods {
 public:
  using PodMap = std::unordered_map<std::string, std::shared_ptr<const policy::KubernetesPod>>;

  struct Lookup {
    std::shared_ptr<const policy::KubernetesPod> pod;  // null: not resolved
    std::string why_not;                               // set when pod is null
  };
  struct Health {
    bool connected = false;  // a list succeeded and the watch after it is running
    bool synced = false;     // a list succeeded at least once
    size_t pods = 0;
    uint64_t lists = 0, events = 0, errors = 0;
    std::string last_error;  // empty: none since the last successful list
    std::optional<std::chrono::system_clock::time_point> last_list;
  };

  KubernetesPods();

  // Any thread; never blocks on the network or on the writer.
  Lookup find(const std::string& uid) const;
  Health health() const;

  // The watch thread.
  void replace_all(PodMap pods);
  void upsert(std::shared_ptr<const policy::KubernetesPod> pod);
  void remove(const std::string& uid);
  void count_event() { events_.fetch_add(1, std::memory_order_relaxed); }
  void set_error(std::string message);

 private:
  struct Snapshot {
    PodMap pods;
    bool synced = false;
    bool connected = false;
    bool failing = false;  // the last attempt to reach the API server failed
  };
  void publish(std::shared_ptr<const Snapshot> next);

  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<uint64_t> events_{0};
  mutable std::mutex health_mu_;  // status only, never the lookup path
  uint64_t lists_ = 0, errors_ = 0;
  std::string last_error_;
  std::optional<std::chrono::system_clock::time_point> last_list_;
};

}  // namespace pgw::engine
