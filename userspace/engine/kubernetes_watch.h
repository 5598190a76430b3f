// Keeps KubernetesPods current from the API server, on a thread of its own.
//
//   LIST   GET /api/v1/pods?fieldSelector=spec.nodeName=<node>&limit=500
//          (page by page with `continue`): the whole set, replacing the cache;
//          its resourceVersion is where the watch starts.
//   WATCH  GET the same with watch=1&resourceVersion=<rv>&allowWatchBookmarks
//          =true: newline-delimited JSON events, ADDED / MODIFIED / DELETED
//          (the pod), BOOKMARK (a newer resourceVersion only), ERROR (a
//          Status). A watch the server ends (timeoutSeconds) is resumed from
//          the last resourceVersion; 410 Gone, as a status or an ERROR event,
//          means that version is too old: list again.
//
// Every request is HTTPS, the server checked against `ca_file`, with the
// bearer token read from `token_file` at each (re)connect (projected tokens
// rotate). A failure is retried after 0.5 s, doubling up to 30 s; while it
// lasts, pods already cached stay resolved and the others are refused with
// "API server unreachable".
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "engine/kubernetes_pods.h"
#include "policy/config.h"

namespace pgw::engine {

class KubernetesWatch {
 public:
  // Fails when there is no API server (no api_server and not in a pod) or
  // no node name: then nothing could ever be resolved. An API server that
  // does not answer yet is not a failure (the thread keeps trying).
  static Result<std::unique_ptr<KubernetesWatch>> start(const policy::KubernetesConfig& config);
  ~KubernetesWatch();
  KubernetesWatch(const KubernetesWatch&) = delete;
  KubernetesWatch& operator=(const KubernetesWatch&) = delete;

  const KubernetesPods& pods() const { return pods_; }
  const std::string& api_server() const { return api_server_; }
  const std::string& node_name() const { return node_name_; }
  void stop();
  bool stopping() const;

 private:
  KubernetesWatch(policy::KubernetesConfig config, std::string api_server, std::string node_name);
  void run();
  // Each returns an error sentence, or nothing when it ended as it should.
  std::optional<std::string> list();
  std::optional<std::string> watch();
  void backoff();

  policy::KubernetesConfig config_;
  std::string api_server_, node_name_;
  KubernetesPods pods_;
  std::string resource_version_;  // empty: list before watching
  std::chrono::milliseconds delay_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgw::engine
