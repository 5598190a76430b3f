// The TLS client contexts of the configured upstreams (upstreams[].tls,
// ca_file), one per upstream that attempts TLS, built off the loop threads
// when the config is loaded and again on every reload: a new ca_file is read
// then, and new sessions (and their cancel requests) use it; sessions
// running keep the context their channel was made from.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "pgwire/tls_channel.h"
#include "policy/config.h"

namespace pgw::engine {

class UpstreamTlsContexts {
 public:
  // Fails, naming the upstream and the file, when a CA file cannot be used.
  static Result<std::shared_ptr<const UpstreamTlsContexts>> build(const policy::Config& config);

  // The context for an upstream that attempts TLS, or null.
  std::shared_ptr<const pgwire::TlsContext> find(const std::string& upstream) const {
    auto it = by_name_.find(upstream);
    return it == by_name_.end() ? nullptr : it->second;
  }

 private:
  std::map<std::string, std::shared_ptr<const pgwire::TlsContext>> by_name_;
};

}  // namespace pgw::engine
