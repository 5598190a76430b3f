// One GET to the Kubernetes API server over HTTPS with a bearer token, its
// body handed over as it arrives (a watch never ends on its own). Blocking:
// only the watch thread calls it.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::engine {

struct KubernetesGet {
  std::string url;
  std::string token;
  std::string ca_file;
  std::chrono::seconds timeout{30};
  // Asked about once a second while the request runs: true aborts it.
  std::function<bool()> cancelled;
  // Each piece of the body; false stops the transfer (the caller says why).
  std::function<bool(std::string_view)> on_data;
};

// The HTTP status, or why there is none (cannot connect, TLS, timed out,
// cancelled, on_data stopped it), as one sentence without the token.
Result<long> kubernetes_get(const KubernetesGet& request);

// "a=b&c" with each value percent-encoded.
std::string url_encode(std::string_view text);

}  // namespace pgw::engine
