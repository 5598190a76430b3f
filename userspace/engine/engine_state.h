// What all loop threads share: the current config, the cancel-key map and
// counters for `status`. Everything here is either immutable, atomic or
// behind its own small lock; the per-message path touches none of it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "approval/approval_queue.h"
#include "engine/cancel_registry.h"
#include "engine/decision_feed.h"
#include "engine/engine_metrics.h"
#include "engine/mask_model_store.h"
#include "engine/session_registry.h"
#include "engine/upstream_tls.h"
#include "kernel/interceptor.h"
#include "pgwire/tls_channel.h"
#include "policy/config.h"

namespace pgw::engine {

// The last SIGHUP reload, for `status` and /metrics: a refused one leaves
// the running config in place, and the operator must be able to see why.
struct ReloadOutcome {
  std::optional<std::chrono::system_clock::time_point> at;  // none: no reload yet
  bool ok = true;
  std::string error;       // why the last one was refused ("" when it was applied)
  uint64_t failures = 0;   // refused reloads since start
};

class EngineState {
 public:
  explicit EngineState(std::shared_ptr<const policy::Config> config) : config_(std::move(config)) {}

  // Sessions take a snapshot at start; a reload affects new sessions.
  std::shared_ptr<const policy::Config> config() const {
    std::lock_guard lock(mu_);
    return config_;
  }
  void replace_config(std::shared_ptr<const policy::Config> config) {
    std::lock_guard lock(mu_);
    config_ = std::move(config);
    config_generation_.fetch_add(1, std::memory_order_release);
  }
  // The config and its generation, read together (off the loop threads).
  std::pair<std::shared_ptr<const policy::Config>, uint64_t> config_and_generation() const {
    std::lock_guard lock(mu_);
    return {config_, config_generation_.load(std::memory_order_acquire)};
  }
  // Bumped by every reload: open sessions compare it per statement (one
  // atomic load) and pick up the new policy from their next statement.
  uint64_t config_generation() const { return config_generation_.load(std::memory_order_acquire); }

  // The upstreams' TLS client contexts, swapped with the config by a reload
  // (a new ca_file is in force for the sessions that start after it).
  std::shared_ptr<const UpstreamTlsContexts> upstream_tls() const {
    std::lock_guard lock(mu_);
    return upstream_tls_;
  }
  void replace_upstream_tls(std::shared_ptr<const UpstreamTlsContexts> contexts) {
    std::lock_guard lock(mu_);
    upstream_tls_ = std::move(contexts);
  }
  void note_reload(bool ok, std::string error) {
    std::lock_guard lock(mu_);
    reload_.at = std::chrono::system_clock::now();
    reload_.ok = ok;
    reload_.error = std::move(error);
    if (!ok) ++reload_.failures;
  }
  ReloadOutcome last_reload() const {
    std::lock_guard lock(mu_);
    return reload_;
  }

  // Catalog snapshots for policy decisions; set before the loop threads start.
  class CatalogStore* catalogs() const { return catalogs_; }
  void set_catalogs(class CatalogStore* c) { catalogs_ = c; }

  // Transparent interception, when the config asks for it; set once before
  // the loop threads start, then only read (its lookups are thread-safe).
  kernel::Interceptor* interceptor() const { return interceptor_; }
  void set_interceptor(kernel::Interceptor* i) { interceptor_ = i; }

  // cgroup ids to paths, off the loop threads; set with the interceptor.
  class CgroupResolver* cgroups() const { return cgroups_; }
  void set_cgroups(class CgroupResolver* c) { cgroups_ = c; }

  // Pods of this node from the Kubernetes API server (`k8s:` selectors), or
  // null; set before the loop threads start.
  class KubernetesWatch* kubernetes() const { return kubernetes_; }
  void set_kubernetes(class KubernetesWatch* k) { kubernetes_ = k; }

  // Session recording (recording.dir), or null; set before the loop threads start.
  class RecordingService* recordings() const { return recordings_; }
  void set_recordings(class RecordingService* r) { recordings_ = r; }

  // Held statements waiting for people; set once before the loop threads
  // start (the queue locks for itself; only `approve` decisions touch it).
  approval::ApprovalQueue* approvals() const { return approvals_; }
  void set_approvals(approval::ApprovalQueue* q) { approvals_ = q; }

  // Mask models, built off the loop threads and shared by them.
  MaskModelStore& mask_model_store() { return mask_model_store_; }

  CancelRegistry& cancels() { return cancels_; }
  size_t cancels_size() const { return cancels_.size(); }
  SessionRegistry& sessions() { return sessions_; }
  const SessionRegistry& sessions() const { return sessions_; }
  const std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  uint64_t next_session_id() { return next_session_id_.fetch_add(1, std::memory_order_relaxed); }

  std::atomic<uint64_t> sessions_open{0};
  std::atomic<uint64_t> sessions_total{0};
  // Client sessions whose TLS handshake completed.
  std::atomic<uint64_t> tls_sessions_open{0};
  std::atomic<uint64_t> tls_sessions_total{0};

  // The certificate offered to clients (tls.cert_file): swapped by a reload;
  // a session takes it when its client asks for TLS and keeps it.
  pgwire::TlsContextSlot& client_tls() { return client_tls_; }

  // One set of counters per loop thread (engine_metrics.h), made before the
  // threads start; a scrape reads them all.
  LoopMetrics& add_loop_metrics() {
    std::lock_guard lock(mu_);
    loop_metrics_.push_back(std::make_unique<LoopMetrics>());
    return *loop_metrics_.back();
  }
  template <typename F>
  void for_each_loop_metrics(F&& f) const {
    std::lock_guard lock(mu_);
    for (const auto& m : loop_metrics_) f(static_cast<const LoopMetrics&>(*m));
  }

  // Recent refusals and approval requests, newest last, for the console.
  DecisionFeed& decisions() { return decisions_; }
  const DecisionFeed& decisions() const { return decisions_; }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const policy::Config> config_;
  std::shared_ptr<const UpstreamTlsContexts> upstream_tls_;
  ReloadOutcome reload_;
  kernel::Interceptor* interceptor_ = nullptr;
  class CatalogStore* catalogs_ = nullptr;
  class CgroupResolver* cgroups_ = nullptr;
  approval::ApprovalQueue* approvals_ = nullptr;
  class RecordingService* recordings_ = nullptr;
  class KubernetesWatch* kubernetes_ = nullptr;
  std::vector<std::unique_ptr<LoopMetrics>> loop_metrics_;
  DecisionFeed decisions_;
  std::atomic<uint64_t> config_generation_{1};
  MaskModelStore mask_model_store_;
  CancelRegistry cancels_;
  SessionRegistry sessions_;
  pgwire::TlsContextSlot client_tls_;
  std::atomic<uint64_t> next_session_id_{1};
};

}  // namespace pgw::engine
