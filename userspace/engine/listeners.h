// The sockets clients arrive on: `listen` (TCP; redirected connections land
// here too) and `unix_socket` (explicit mode, identity by SO_PEERCRED).
#pragma once

#include <string>

#include "common/result.h"
#include "policy/net_address.h"

namespace pgw::engine {

// SO_REUSEPORT: every loop thread binds its own socket to the same address
// and the kernel spreads new connections across them.
Result<int> open_tcp_listener(const policy::NetAddress& address);

// Creates the directory if missing, replaces a stale socket file, mode 0666:
// who may connect is decided by identity, not by file permissions.
Result<int> open_unix_listener(const std::string& path);

}  // namespace pgw::engine
