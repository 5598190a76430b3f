// The other end of a connected unix socket, as the kernel's sock_diag
// (NETLINK_SOCK_DIAG, unix_diag) names it: its inode number. This is how the
// engine finds the record the connect_unix hook left under the client
// socket's inode (bpf/pgw.bpf.c): SO_PEERCRED names the process, not the
// socket, and a process may hold several connections.
#pragma once

#include <cstdint>

#include "common/result.h"

namespace pgw::kernel {

// Inode number of the peer socket of `fd` (a connected AF_UNIX socket).
// One netlink round trip; needs CONFIG_UNIX_DIAG.
Result<uint64_t> unix_peer_inode(int fd);

}  // namespace pgw::kernel
