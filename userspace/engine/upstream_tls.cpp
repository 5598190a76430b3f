#include "engine/upstream_tls.h"

namespace pgw::engine {

Result<std::shared_ptr<const UpstreamTlsContexts>> UpstreamTlsContexts::build(const policy::Config& config) {
  auto contexts = std::make_shared<UpstreamTlsContexts>();
  for (const policy::Upstream& u : config.upstreams) {
    if (!policy::tls_attempted(u)) continue;
    // Without a ca_file and for prefer/require, no verification: the
    // system's store is not consulted, as libpq does not consult it either.
    auto ctx = pgwire::TlsContext::client({u.ca_file, policy::tls_verifies_chain(u)});
    if (!ctx) return make_error("upstream \"" + u.name + "\": " + ctx.error());
    contexts->by_name_.emplace(u.name, std::move(ctx).value());
  }
  return std::shared_ptr<const UpstreamTlsContexts>(std::move(contexts));
}

}  // namespace pgw::engine
