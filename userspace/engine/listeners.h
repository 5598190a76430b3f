// The sockets clients arrive on: `listen` (TCP; redirected connections land
// here too) and `unix_socket` (explicit mode, identity by SO_PEERCRED).
#pragma once

#include <string>

#include "common/result.h"
#include "policy/net_address.h"

namespace pgw::engine {

// One socket, shared by every loop thread (each keeps a multishot accept on
// it; the kernel hands each connection to one of them).
Result<int> open_tcp_listener(const policy::NetAddress& address);

// Creates the directory if missing, replaces a stale socket file, mode 0666:
// who may connect is decided by identity, not by file permissions.
Result<int> open_unix_listener(const std::string& path);

}  // namespace pgw::engine
