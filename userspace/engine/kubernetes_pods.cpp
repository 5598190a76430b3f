#include "engine/kubernetes_pods.h"

namespace pgw::engine {

KubernetesPods::KubernetesPods() : snapshot_(std::make_shared<const Snapshot>()) {}

KubernetesPods::Lookup KubernetesPods::find(const std::string& uid) const {
  const std::shared_ptr<const Snapshot> snap = snapshot_.load(std::memory_order_acquire);
  if (auto it = snap->pods.find(uid); it != snap->pods.end()) return {it->second, {}};
  if (snap->failing) return {nullptr, "API server unreachable"};
  if (!snap->synced) return {nullptr, "the pod list is not loaded from the API server yet"};
  return {nullptr, "pod unknown to the API server on this node"};
}

KubernetesPods::Health KubernetesPods::health() const {
  const std::shared_ptr<const Snapshot> snap = snapshot_.load(std::memory_order_acquire);
  Health h;
  h.connected = snap->connected;
  h.synced = snap->synced;
  h.pods = snap->pods.size();
  h.events = events_.load(std::memory_order_relaxed);
  std::lock_guard lock(health_mu_);
  h.lists = lists_;
  h.errors = errors_;
  h.last_error = last_error_;
  h.last_list = last_list_;
  return h;
}

void KubernetesPods::publish(std::shared_ptr<const Snapshot> next) {
  snapshot_.store(std::move(next), std::memory_order_release);
}

void KubernetesPods::replace_all(PodMap pods) {
  auto next = std::make_shared<Snapshot>();
  next->pods = std::move(pods);
  next->synced = true;
  next->connected = true;
  publish(std::move(next));
  std::lock_guard lock(health_mu_);
  ++lists_;
  last_error_.clear();
  last_list_ = std::chrono::system_clock::now();
}

void KubernetesPods::upsert(std::shared_ptr<const policy::KubernetesPod> pod) {
  auto next = std::make_shared<Snapshot>(*snapshot_.load(std::memory_order_acquire));
  next->pods[pod->uid] = std::move(pod);
  publish(std::move(next));
}

void KubernetesPods::remove(const std::string& uid) {
  auto next = std::make_shared<Snapshot>(*snapshot_.load(std::memory_order_acquire));
  if (next->pods.erase(uid) == 0) return;
  publish(std::move(next));
}

void KubernetesPods::set_error(std::string message) {
  auto next = std::make_shared<Snapshot>(*snapshot_.load(std::memory_order_acquire));
  next->connected = false;
  next->failing = true;
  publish(std::move(next));
  std::lock_guard lock(health_mu_);
  ++errors_;
  last_error_ = std::move(message);
}

}  // namespace pgw::engine
