/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one header shared by the eBPF programs (bpf/pgw.bpf.c) and the
 * userspace loader (userspace/kernel/). Every map key and value lives here,
 * in plain C with fixed-width types and explicit padding, so both sides see
 * the same bytes. Keys must have no implicit padding: the kernel hashes every
 * byte of a key, and uninitialised padding would make equal keys differ.
 */
#ifndef PGW_SHARED_H
#define PGW_SHARED_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define PGW_COMM_LEN 16

/* Map sizes. Fixed at build time so a restarted engine can reuse the pinned
 * maps of the previous one (libbpf refuses to reuse a map whose definition
 * changed). */
#define PGW_MAX_PORTS 64
#define PGW_MAX_OWN_SOCKETS 65536
#define PGW_MAX_PENDING 65536
#define PGW_MAX_FAST_SOCKETS 65536 /* two per fast-pathed connection */
#define PGW_MAX_UNIX_PATHS 16
#define PGW_MAX_UNIX_PENDING 65536
#define PGW_UNIX_PATH_LEN 108 /* sizeof(((struct sockaddr_un *)0)->sun_path) */

/* Role of a socket that carries a pgw_origin record. */
enum pgw_role {
  PGW_ROLE_NONE = 0,     /* record left over from an earlier connect: ignore */
  PGW_ROLE_CLIENT = 1,   /* the workload's socket, redirected by connect4/6 */
  PGW_ROLE_ACCEPTED = 2, /* the engine's accepted socket for that client */
};

/* Per socket and per sending direction: do this socket's bytes skip the
 * loopback TCP stack (sk_msg redirect) or not. Decided at the socket's first
 * sendmsg and never changed afterwards (see pgw_sk_msg for why). */
enum pgw_tx_path {
  PGW_TX_UNDECIDED = 0,
  PGW_TX_FAST = 1,
  PGW_TX_TCP = 2,
};

/* pgw_origin.flags */
#define PGW_F_IN_SOCKHASH 0x1 /* this socket was put into pgw_sockhash */

/*
 * Value of pgw_origin (BPF_MAP_TYPE_SK_STORAGE): what the connect hook saw,
 * kept with the client socket and copied to the engine's accepted socket.
 * Userspace reads it with its accepted fd as the key.
 */
struct pgw_origin {
  /* Original destination as the client named it in connect(): for AF_INET
   * the address is in dst_addr[0..3]; for AF_INET6 all 16 bytes (possibly a
   * v4-mapped ::ffff:a.b.c.d). Network byte order. */
  __u8 dst_addr[16];
  __u16 dst_port; /* network byte order */
  __u16 family;   /* AF_INET or AF_INET6: the client socket's family */
  __u32 tgid;     /* in the initial pid namespace */
  __u32 uid;
  __u32 gid;
  __u64 cgroup_id; /* cgroup v2 id of the connecting task */
  char comm[PGW_COMM_LEN];
  __u8 role;    /* enum pgw_role */
  __u8 tx_path; /* enum pgw_tx_path */
  __u8 flags;   /* PGW_F_* */
  __u8 pad[5];
};

/*
 * A TCP connection seen from one of its ends. Addresses are always 16 bytes
 * (IPv4 as v4-mapped ::ffff:a.b.c.d) so that a v4-mapped IPv6 client socket
 * and the engine's IPv4 accepted socket name the same connection the same
 * way. Ports in host byte order.
 * Key of pgw_pending (client end, local = client) and of pgw_sockhash (each
 * end keyed by its own view).
 */
struct pgw_tuple {
  __u8 local_addr[16];
  __u8 remote_addr[16];
  __u16 local_port;
  __u16 remote_port;
  __u32 pad;
};

/*
 * Unix-socket interception (cgroup connect_unix, kernel >= 6.7). Kept in maps
 * of their own so that pgw_origin and pgw_config keep the layout a previous
 * engine pinned.
 *
 * A socket path, NUL-padded to the full sun_path size: the key of
 * pgw_unix_paths (the configured paths) and the engine's target in
 * pgw_unix_config.
 */
struct pgw_unix_path {
  char path[PGW_UNIX_PATH_LEN];
};

/* Value of pgw_unix_config (array, one entry): where intercepted unix
 * connects go (the engine's own socket, a path in the workloads' view). */
struct pgw_unix_config {
  struct pgw_unix_path target;
  __u32 target_len; /* bytes of target.path, without NUL; 0 = redirect nothing */
};

/*
 * The record of an intercepted unix connect, in pgw_unix_pend under the
 * client socket's inode number: the engine finds it through its accepted
 * socket's peer (the kernel's sock_diag names a unix socket's peer by
 * inode), getpeername_unix through the engine end's peer. Socket inode
 * numbers come from a counter and are not reused while the socket lives.
 */
struct pgw_unix_origin {
  struct pgw_unix_path original; /* the path the client named */
  __u32 tgid;                    /* in the initial pid namespace */
  __u64 cgroup_id;
  __u32 uid;
  __u32 gid;
  char comm[PGW_COMM_LEN];
  __u8 role; /* enum pgw_role */
  __u8 pad[7];
};

/* Value of pgw_config (array, one entry): where redirected connects go. */
struct pgw_config {
  __u32 listen4_addr; /* network byte order; 0 = not configured: redirect nothing */
  __u16 listen4_port; /* network byte order */
  __u16 has_listen6;  /* 1: native IPv6 destinations go to listen6 */
  __u8 listen6_addr[16];
  __u16 listen6_port; /* network byte order */
  __u16 fast_path;    /* 1: put new redirected connections into pgw_sockhash */
  __u32 engine_tgid;  /* the engine's process (host pid namespace): its connects are never
                         redirected, whatever library opens the socket (libpq for the catalog) */
};

enum pgw_fail_mode {
  PGW_FAIL_CLOSED = 0, /* engine not alive: a connect that would be redirected gets EPERM */
  PGW_FAIL_OPEN = 1,   /* engine not alive: the connect goes to its original destination */
};

/* Value of pgw_state (array, one entry): is the engine serving. */
struct pgw_state {
  __u64 heartbeat_ns;         /* CLOCK_MONOTONIC (== bpf_ktime_get_ns) of the last heartbeat */
  __u64 heartbeat_timeout_ns; /* older than this = engine not alive */
  __u32 fail_mode;            /* enum pgw_fail_mode */
  __u32 pad;
};

/* Indexes of pgw_stats (per-CPU array of __u64 counters). Unix connects
 * count as connects; the array's size stays what a previous engine pinned. */
enum pgw_stat {
  PGW_STAT_CONNECT_REDIRECTED = 0,
  PGW_STAT_CONNECT_REFUSED,     /* fail closed: engine heartbeat stale */
  PGW_STAT_CONNECT_PASSED_OPEN, /* fail open: engine heartbeat stale */
  PGW_STAT_CONNECT_OWN_SOCKET,  /* the engine's own socket, left alone */
  PGW_STAT_ACCEPT_MATCHED,      /* record handed to the accepted socket */
  PGW_STAT_SOCKHASH_ADDED,      /* sockets put into pgw_sockhash */
  PGW_STAT_FAST_BYTES,          /* bytes moved by sk_msg redirect */
  PGW_STAT_TCP_BYTES,           /* bytes of sockhash members sent the TCP way */
  PGW_STAT_COUNT,
};

/* Both compilers must agree on these layouts. */
#ifdef __cplusplus
#define PGW_STATIC_ASSERT static_assert
#else
#define PGW_STATIC_ASSERT _Static_assert
#endif
PGW_STATIC_ASSERT(sizeof(struct pgw_origin) == 64, "pgw_origin layout");
PGW_STATIC_ASSERT(sizeof(struct pgw_tuple) == 40, "pgw_tuple layout");
PGW_STATIC_ASSERT(sizeof(struct pgw_config) == 32, "pgw_config layout");
PGW_STATIC_ASSERT(sizeof(struct pgw_state) == 24, "pgw_state layout");
PGW_STATIC_ASSERT(sizeof(struct pgw_unix_config) == 112, "pgw_unix_config layout");
PGW_STATIC_ASSERT(sizeof(struct pgw_unix_origin) == 152, "pgw_unix_origin layout");

#endif /* PGW_SHARED_H */
