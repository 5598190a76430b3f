// The sockets clients arrive on: `listen` (TCP; redirected connections land
// here too) and `unix_socket` (explicit mode, identity by SO_PEERCRED).
#pragma once

#include <string>

#include "common/result.h"
#include "policy/net_address.h"

namespace pgw::engine {

// One socket, shared by every loop thread (each keeps a multishot accept on
// it; the kernel hands each connection to one of them). `share_port`
// (SO_REUSEPORT) lets the next engine listen on the same address during a
// handover; only engines that intercept set it (see engine.cpp).
Result<int> open_tcp_listener(const policy::NetAddress& address, bool share_port = false);

// Creates the directory if missing, replaces a stale socket file, mode 0666:
// who may connect is decided by identity, not by file permissions. A live
// socket at `path` is an error unless `replace_live` (a handover: the
// previous engine keeps accepting what is already queued on its socket).
Result<int> open_unix_listener(const std::string& path, bool replace_live = false);

// Removes the socket file at `path` if it is still the one this process
// bound (its inode is `bound_inode`): after a handover it is the next
// engine's.
void unlink_own_socket_file(const std::string& path, uint64_t bound_inode);
uint64_t socket_file_inode(const std::string& path);  // 0 if absent

}  // namespace pgw::engine
