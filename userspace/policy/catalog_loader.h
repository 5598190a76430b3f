// Loads a Catalog snapshot from an upstream over pgwarden's own libpq
// connection, logging in as the upstream's configured user.
//
// Blocking: it connects, runs a handful of catalog queries in one read-only
// transaction and disconnects. Call it from a background thread the caller
// owns, never from an io_uring loop thread. Every failure is one sentence
// naming the upstream address and what went wrong; the password never
// appears in it.
//
// Locks. The catalog connection shares the database with the clients and
// must never make one of them wait or fail: the snapshot itself reads only
// system catalogs. Printing a view's definition (pg_get_viewdef) or a
// BEGIN ATOMIC function body (pg_get_function_sqlbody) is different: the
// server locks the view and every relation the query reads (ACCESS SHARE),
// which conflicts with a client's ACCESS EXCLUSIVE (LOCK TABLE, DROP,
// most ALTER TABLE). So a definition is printed only when it is new or
// changed (a DefinitionCache keeps the last text with a fingerprint of
// what it depends on), only when no other session holds or waits for a
// lock stronger than ROW EXCLUSIVE on any of those relations (LOCK TABLE,
// DDL, maintenance: a client may be about to ask for ACCESS EXCLUSIVE,
// with NOWAIT perhaps), in a savepoint rolled back at once (its locks are
// released before the next one is taken), and under lock_timeout (20 ms),
// so that a lock taken between the check and the print is waited for
// briefly at most. A definition not printed for a lock is left out of this
// snapshot (masking then masks that view whole, or treats the function as
// opaque) and counted in LoadedCatalog::deferred; the caller loads again
// later. With CatalogSource::print_definitions off (no masking), nothing is
// printed and no user relation is locked at all.
//
// Definitions are printed with an empty search_path, so every name outside
// pg_catalog is schema-qualified: the cached text means the same relations
// whatever is created later, and the lineage tracer resolves it exactly.
//
// The engine's own sockets must not be redirected by the eBPF connect hook;
// the engine's cgroup exemption covers this connection like any other it
// makes.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

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
  std::string ca_file;      // libpq's sslrootcert; empty: none
  std::string server_name;  // the name verify-full checks (libpq's host, with hostaddr = host above)
  std::chrono::milliseconds connect_timeout{5000};
  std::string application_name = "pgwarden-catalog";
  // Print view definitions and BEGIN ATOMIC bodies (only masking needs
  // them). Off: the snapshot has none, and loading it takes no lock on any
  // user relation at all.
  bool print_definitions = true;
};

// The source for a configured upstream and the database a session uses
// (the upstream's fixed `database`, else the client's database name).
CatalogSource catalog_source(const Upstream& upstream, const std::string& dbname);

// What one load can reuse from the previous one of the same database:
// printed view definitions and BEGIN ATOMIC bodies by oid, each with the
// fingerprint of what its text depends on (its own rule or function row,
// and the names of every relation with its columns, function, type,
// operator and collation it refers to, with their schemas). Used by one
// thread at a time.
struct DefinitionCache {
  struct Entry {
    std::string fingerprint;
    std::string text;
  };
  std::unordered_map<Oid, Entry> views;
  std::unordered_map<Oid, Entry> functions;
};

struct LoadedCatalog {
  std::shared_ptr<const Catalog> catalog;
  std::size_t printed = 0;   // definitions printed by this load
  std::size_t reused = 0;    // definitions taken unchanged from the cache
  // Not printed (a client holds a lock they need, or the object was dropped
  // since the snapshot): load again later.
  std::size_t deferred = 0;
  std::string deferred_example;  // one of them, and why, for the log
};

// Loads a snapshot, printing only the definitions `cache` does not hold
// for their current fingerprint; `cache` is updated to what this snapshot
// holds.
Result<LoadedCatalog> load_catalog(const CatalogSource& source, DefinitionCache& cache);

// A one-off load (nothing cached): every definition is printed, with the
// same lock precautions.
Result<std::shared_ptr<const Catalog>> load_catalog(const CatalogSource& source);

}  // namespace pgw::policy
