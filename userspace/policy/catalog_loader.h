// Loads a Catalog snapshot from an upstream over pgwarden's own libpq
// connection, logging in as the upstream's configured user.
//
// Blocking: it connects, runs a handful of catalog queries in one read-only
// transaction and disconnects. Call it from a background thread the caller
// owns, never from an io_uring loop thread. Every failure is one sentence
// naming the upstream address and what went wrong; the password never
// appears in it.
//
// The engine's own sockets must not be redirected by the eBPF connect hook;
// the engine's cgroup exemption covers this connection like any other it
// makes.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/result.h"
#include "policy/catalog.h"
#include "policy/config.h"

namespace pgw::policy {

struct CatalogSource {
  std::string host;  // numeric address or a unix socket directory
  std::uint16_t port = 5432;
  std::string user;
  std::optional<Secret> password;
  std::string dbname;
  TlsMode tls = TlsMode::prefer;
  std::chrono::milliseconds connect_timeout{5000};
  std::string application_name = "pgwarden-catalog";
};

// The source for a configured upstream and the database a session uses
// (the upstream's fixed `database`, else the client's database name).
CatalogSource catalog_source(const Upstream& upstream, const std::string& dbname);

Result<std::shared_ptr<const Catalog>> load_catalog(const CatalogSource& source);

}  // namespace pgw::policy
