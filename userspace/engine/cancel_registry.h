// Maps the cancel keys pgwarden hands to clients onto the upstream's keys.
//
// A client never learns the upstream's secret key: it gets a key of
// pgwarden's own in BackendKeyData. A CancelRequest arrives on a fresh
// connection, possibly on another loop thread, so the map is shared; it is
// touched once per session start and end and once per cancel, never per
// message, so a mutex is the simple, right tool.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "pgwire/tls_channel.h"

namespace pgw::engine {

struct CancelTarget {
  sockaddr_storage upstream{};
  socklen_t upstream_len = 0;
  int32_t process_id = 0;
  std::string secret_key;
  uint64_t session_id = 0;  // pgwarden's session (a held statement is withdrawn, not canceled upstream)
  std::string upstream_name;  // for messages
  // Set when the session reached its upstream over TLS: the cancel does too,
  // with the same context (CA) and checks.
  std::shared_ptr<const pgwire::TlsContext> tls;
  std::string tls_server_name;
  bool tls_check_host = false;
};

class CancelRegistry {
 public:
  // Issues a client-facing key for a session and remembers where it points.
  // The process id stays the upstream's (clients compare it with the pid in
  // NotificationResponse); the secret is fresh random bytes of the same
  // length as the upstream's.
  std::pair<int32_t, std::string> issue(const CancelTarget& target);
  void forget(int32_t process_id, const std::string& secret_key);
  std::optional<CancelTarget> find(int32_t process_id, const std::string& secret_key) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<int32_t, std::string>, CancelTarget> targets_;
};

}  // namespace pgw::engine
