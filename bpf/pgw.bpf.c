// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pgwarden's kernel side: transparent redirection of a workload's PostgreSQL
 * connections to the local engine.
 *
 *   cgroup/connect4|6   a workload's connect to an intercepted port goes to the
 *                       engine's listen address; what it asked for and who it
 *                       is are kept with the socket (pgw_origin)
 *   sockops             the client end (ACTIVE_ESTABLISHED) parks its record in
 *                       pgw_pending under the connection's 4-tuple; the engine's
 *                       accepted end (PASSIVE_ESTABLISHED) takes it from there
 *                       into its own socket storage; with the fast path on and
 *                       a non-blocking client socket, both ends enter
 *                       pgw_sockhash (see client_is_nonblocking)
 *   sk_msg              bytes between the two ends skip the loopback TCP stack
 *   cgroup/getpeername  the client sees the address it connected to
 *   connect_unix        (kernel >= 6.7) a unix connect to a configured socket
 *                       path (the database's, pgw_unix_paths) goes to the
 *                       engine's own socket; the record goes into
 *                       pgw_unix_pend under the client socket's inode number
 *   getpeername_unix    the client sees the path it connected to (the hook
 *                       runs on the engine's end, whose peer is the client)
 *
 * Attach points (userspace/kernel/interceptor.cpp): connect and getpeername at
 * the intercepted cgroup subtree only; sockops at that subtree and at the
 * engine's own cgroup (the accepted socket belongs to the cgroup of the
 * process that created the listening socket, so without the second point the
 * engine's end would never be seen).
 *
 * Every program and map is named pgw_* so operators find them in bpftool.
 * Names stay within 15 characters (the kernel's object name limit).
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "pgw_shared.h"

#define AF_INET 2
#define AF_INET6 10
/* O_NONBLOCK of the asm-generic fcntl.h (x86, arm64, riscv, powerpc, s390). */
#if defined(__TARGET_ARCH_mips) || defined(__TARGET_ARCH_sparc) || defined(__TARGET_ARCH_alpha) || \
    defined(__TARGET_ARCH_parisc)
#error "O_NONBLOCK has another value on this architecture: define PGW_O_NONBLOCK for it"
#endif
#define PGW_O_NONBLOCK 04000

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- maps (all pinned by name under pgwarden's pin directory) ---------- */

/* Destination ports to intercept (host byte order). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PGW_MAX_PORTS);
  __type(key, __u16);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_ports SEC(".maps");

/* Socket cookies of the engine's own upstream sockets: never redirected. A
 * cookie is assigned by the kernel and never reused, so a workload cannot
 * make its socket look like one of these (unlike SO_MARK). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PGW_MAX_OWN_SOCKETS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u64);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_own_socks SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pgw_config);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_config SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pgw_state);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_state SEC(".maps");

/* The record of a redirected connection, on the client socket and on the
 * engine's accepted socket. Freed with the socket: nothing to clean up. */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct pgw_origin);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_origin SEC(".maps");

/* Records between the client's ACTIVE_ESTABLISHED and the engine side's
 * PASSIVE_ESTABLISHED, keyed by the full 4-tuple seen from the client (ports
 * alone are reused). The accepted end deletes its entry; the client's close
 * deletes an entry no accepted end ever took. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PGW_MAX_PENDING);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct pgw_tuple);
  __type(value, struct pgw_origin);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_pending SEC(".maps");

/* Both local ends of fast-pathed connections, each keyed by its own view of
 * the 4-tuple. The kernel removes a socket when it closes. */
struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, PGW_MAX_FAST_SOCKETS);
  __type(key, struct pgw_tuple);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_sockhash SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PGW_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_stats SEC(".maps");

/* Unix-socket interception (see pgw_shared.h). The configured paths: */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, PGW_MAX_UNIX_PATHS);
  __type(key, struct pgw_unix_path);
  __type(value, __u8);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_unix_paths SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct pgw_unix_config);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_unix_config SEC(".maps");

/* Client socket inode -> record: the engine reads it on accept, the
 * client's getpeername_unix for as long as the connection lives. LRU: the
 * entries of closed connections age out instead of filling the map (a
 * connection older than the last 65536 connects shows the engine's path). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, PGW_MAX_UNIX_PENDING);
  __type(key, __u64);
  __type(value, struct pgw_unix_origin);
  __uint(pinning, LIBBPF_PIN_BY_NAME);
} pgw_unix_pend SEC(".maps");

/* ---- helpers ------------------------------------------------------------ */

static __always_inline void count(__u32 stat, __u64 n) {
  __u64 *c = bpf_map_lookup_elem(&pgw_stats, &stat);
  if (c)
    *c += n; /* per-CPU slot: no atomics needed */
}

static __always_inline struct pgw_config *current_config(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&pgw_config, &zero);
}

/* The engine counts as serving while its heartbeat is fresh. */
static __always_inline int engine_alive(struct pgw_state **state_out) {
  __u32 zero = 0;
  struct pgw_state *st = bpf_map_lookup_elem(&pgw_state, &zero);
  *state_out = st;
  if (!st || !st->heartbeat_ns)
    return 0;
  __u64 now = bpf_ktime_get_ns();
  if (now <= st->heartbeat_ns) /* written a moment ago */
    return 1;
  return now - st->heartbeat_ns <= st->heartbeat_timeout_ns;
}

/* Verdict for a connect the rules would redirect while the engine is not
 * serving: 0 (EPERM to the caller) when failing closed, 1 (unchanged connect
 * to the original destination) when failing open. */
static __always_inline int stale_engine_verdict(struct pgw_state *st) {
  if (st && st->fail_mode == PGW_FAIL_OPEN) {
    count(PGW_STAT_CONNECT_PASSED_OPEN, 1);
    return 1;
  }
  count(PGW_STAT_CONNECT_REFUSED, 1);
  return 0;
}

/* A socket re-used for a second connect must not keep the first one's
 * record (getpeername would lie). The cgroup sock_addr hooks cannot delete
 * socket storage, so the record is disowned instead. */
static __always_inline void disown_record(struct bpf_sock *sk) {
  struct pgw_origin *o = bpf_sk_storage_get(&pgw_origin, sk, 0, 0);
  if (o)
    o->role = PGW_ROLE_NONE;
}

static __always_inline int is_own_socket(struct bpf_sock_addr *ctx) {
  __u64 cookie = bpf_get_socket_cookie(ctx);
  if (bpf_map_lookup_elem(&pgw_own_socks, &cookie)) {
    count(PGW_STAT_CONNECT_OWN_SOCKET, 1);
    return 1;
  }
  /* Sockets the engine cannot register before connecting (libpq's, for the
   * catalog) are known by the calling process instead. Only while the engine
   * is alive: a dead engine's pid may belong to someone else by now. */
  struct pgw_config *cfg = current_config();
  struct pgw_state *st;
  if (cfg && cfg->engine_tgid && (__u32)(bpf_get_current_pid_tgid() >> 32) == cfg->engine_tgid &&
      engine_alive(&st)) {
    count(PGW_STAT_CONNECT_OWN_SOCKET, 1);
    return 1;
  }
  return 0;
}

/* Fills the identity part of a fresh record from the connecting task. */
static __always_inline void record_identity(struct pgw_origin *o) {
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u64 uid_gid = bpf_get_current_uid_gid();
  o->tgid = pid_tgid >> 32;
  o->uid = (__u32)uid_gid;
  o->gid = uid_gid >> 32;
  o->cgroup_id = bpf_get_current_cgroup_id();
  bpf_get_current_comm(o->comm, sizeof(o->comm));
  o->role = PGW_ROLE_CLIENT;
  o->tx_path = PGW_TX_UNDECIDED;
  o->flags = 0;
}

static __always_inline void addr_from_v4(__u8 out[16], __u32 v4) {
  __u32 *w = (__u32 *)out;
  w[0] = 0;
  w[1] = 0;
  w[2] = bpf_htonl(0x0000ffff);
  w[3] = v4;
}

static __always_inline void addr_from_v6(__u8 out[16], const __u32 *v6) {
  __u32 *w = (__u32 *)out;
  w[0] = v6[0];
  w[1] = v6[1];
  w[2] = v6[2];
  w[3] = v6[3];
}

/* ---- cgroup/connect4 ---------------------------------------------------- */

/*
 * A workload inside the intercepted cgroup that connects to the engine's
 * listen address itself is not redirected, but it still gets a record: if it
 * had none, the engine would take it for an explicit TCP client and judge it
 * by its source address alone, so an agent could pass for whatever identity
 * loopback clients have. The destination recorded is the listen address.
 */
static __always_inline int record_direct_engine_connect(struct bpf_sock *sk, __u16 family,
                                                        const __u8 dst[16], __u16 dst_port) {
  struct pgw_origin *o =
      bpf_sk_storage_get(&pgw_origin, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!o)
    return 0; /* cannot keep the identity: refuse rather than let an unnamed client in */
  __builtin_memcpy(o->dst_addr, dst, sizeof(o->dst_addr));
  o->dst_port = dst_port;
  o->family = family;
  record_identity(o);
  return 1;
}

SEC("cgroup/connect4")
int pgw_connect4(struct bpf_sock_addr *ctx) {
  if (ctx->type != SOCK_STREAM || ctx->protocol != IPPROTO_TCP)
    return 1;
  struct bpf_sock *sk = ctx->sk;
  if (!sk)
    return 1;

  __u16 port = bpf_ntohs((__u16)ctx->user_port);
  struct pgw_config *cfg = current_config();
  __u32 dst = ctx->user_ip4;
  if (cfg && cfg->listen4_addr && dst == cfg->listen4_addr &&
      (__u16)ctx->user_port == cfg->listen4_port) {
    /* Dialling the engine directly from an intercepted cgroup. */
    if (is_own_socket(ctx)) {
      disown_record(sk);
      return 1;
    }
    __u8 to[16] = {};
    *(__u32 *)to = dst;
    return record_direct_engine_connect(sk, AF_INET, to, (__u16)ctx->user_port);
  }
  if (!bpf_map_lookup_elem(&pgw_ports, &port) || !cfg || !cfg->listen4_addr ||
      is_own_socket(ctx)) {
    disown_record(sk);
    return 1;
  }

  struct pgw_state *st;
  if (!engine_alive(&st)) {
    disown_record(sk);
    return stale_engine_verdict(st);
  }

  struct pgw_origin *o =
      bpf_sk_storage_get(&pgw_origin, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!o)
    return 0; /* cannot keep the identity: refuse rather than let an unnamed client in */
  __builtin_memset(o->dst_addr, 0, sizeof(o->dst_addr));
  *(__u32 *)o->dst_addr = dst;
  o->dst_port = (__u16)ctx->user_port;
  o->family = AF_INET;
  record_identity(o);

  ctx->user_ip4 = cfg->listen4_addr;
  ctx->user_port = cfg->listen4_port;
  count(PGW_STAT_CONNECT_REDIRECTED, 1);
  return 1;
}

/* ---- cgroup/connect6 ---------------------------------------------------- */

static __always_inline int is_v4_mapped(const __u32 w[4]) {
  return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/*
 * IPv6 sockets: a v4-mapped destination (::ffff:a.b.c.d, as Java drivers use)
 * goes to the engine's IPv4 listen address in its v4-mapped form; a native
 * IPv6 destination goes to listen6 when one is configured, else also to the
 * v4-mapped IPv4 listen address. That needs a dual-stack socket (the default,
 * IPV6_V6ONLY off); a V6ONLY socket then fails with ENETUNREACH, which is why
 * listen6 exists.
 */
SEC("cgroup/connect6")
int pgw_connect6(struct bpf_sock_addr *ctx) {
  if (ctx->type != SOCK_STREAM || ctx->protocol != IPPROTO_TCP)
    return 1;
  struct bpf_sock *sk = ctx->sk;
  if (!sk)
    return 1;

  __u16 port = bpf_ntohs((__u16)ctx->user_port);
  struct pgw_config *cfg = current_config();
  if (!cfg || !cfg->listen4_addr) {
    disown_record(sk);
    return 1;
  }
  __u32 dst[4];
  dst[0] = ctx->user_ip6[0];
  dst[1] = ctx->user_ip6[1];
  dst[2] = ctx->user_ip6[2];
  dst[3] = ctx->user_ip6[3];
  const __u16 dst_port = (__u16)ctx->user_port;
  const int to_listen4 = is_v4_mapped(dst) && dst[3] == cfg->listen4_addr && dst_port == cfg->listen4_port;
  const __u32 *l6 = (const __u32 *)cfg->listen6_addr;
  const int to_listen6 = cfg->has_listen6 && dst_port == cfg->listen6_port && dst[0] == l6[0] &&
                         dst[1] == l6[1] && dst[2] == l6[2] && dst[3] == l6[3];
  if (to_listen4 || to_listen6) {
    /* Dialling the engine directly from an intercepted cgroup. */
    if (is_own_socket(ctx)) {
      disown_record(sk);
      return 1;
    }
    __u8 direct[16];
    addr_from_v6(direct, dst);
    return record_direct_engine_connect(sk, AF_INET6, direct, dst_port);
  }
  if (!bpf_map_lookup_elem(&pgw_ports, &port) || is_own_socket(ctx)) {
    disown_record(sk);
    return 1;
  }

  __u32 to[4];
  __u16 to_port;
  if (!is_v4_mapped(dst) && cfg->has_listen6) {
    __builtin_memcpy(to, cfg->listen6_addr, sizeof(to));
    to_port = cfg->listen6_port;
  } else {
    to[0] = 0;
    to[1] = 0;
    to[2] = bpf_htonl(0x0000ffff);
    to[3] = cfg->listen4_addr;
    to_port = cfg->listen4_port;
  }

  struct pgw_state *st;
  if (!engine_alive(&st)) {
    disown_record(sk);
    return stale_engine_verdict(st);
  }

  struct pgw_origin *o =
      bpf_sk_storage_get(&pgw_origin, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!o)
    return 0;
  addr_from_v6(o->dst_addr, dst);
  o->dst_port = (__u16)ctx->user_port;
  o->family = AF_INET6;
  record_identity(o);

  ctx->user_ip6[0] = to[0];
  ctx->user_ip6[1] = to[1];
  ctx->user_ip6[2] = to[2];
  ctx->user_ip6[3] = to[3];
  ctx->user_port = to_port;
  count(PGW_STAT_CONNECT_REDIRECTED, 1);
  return 1;
}

/* ---- cgroup/getpeername4|6 ---------------------------------------------- */

static __always_inline struct pgw_origin *client_record(struct bpf_sock *sk) {
  if (!sk)
    return 0;
  struct pgw_origin *o = bpf_sk_storage_get(&pgw_origin, sk, 0, 0);
  if (!o || o->role != PGW_ROLE_CLIENT)
    return 0;
  return o;
}

SEC("cgroup/getpeername4")
int pgw_peername4(struct bpf_sock_addr *ctx) {
  struct pgw_origin *o = client_record(ctx->sk);
  if (o && o->family == AF_INET) {
    ctx->user_ip4 = *(__u32 *)o->dst_addr;
    ctx->user_port = o->dst_port;
  }
  return 1;
}

SEC("cgroup/getpeername6")
int pgw_peername6(struct bpf_sock_addr *ctx) {
  struct pgw_origin *o = client_record(ctx->sk);
  if (o && o->family == AF_INET6) {
    __u32 *w = (__u32 *)o->dst_addr;
    ctx->user_ip6[0] = w[0];
    ctx->user_ip6[1] = w[1];
    ctx->user_ip6[2] = w[2];
    ctx->user_ip6[3] = w[3];
    ctx->user_port = o->dst_port;
  }
  return 1;
}

/* ---- sockops ------------------------------------------------------------ */

/* The connection as this end sees it (local = this socket). */
static __always_inline void tuple_of(struct bpf_sock_ops *ops, struct pgw_tuple *t) {
  if (ops->family == AF_INET) {
    addr_from_v4(t->local_addr, ops->local_ip4);
    addr_from_v4(t->remote_addr, ops->remote_ip4);
  } else {
    __u32 l[4] = {ops->local_ip6[0], ops->local_ip6[1], ops->local_ip6[2],
                  ops->local_ip6[3]};
    __u32 r[4] = {ops->remote_ip6[0], ops->remote_ip6[1], ops->remote_ip6[2],
                  ops->remote_ip6[3]};
    addr_from_v6(t->local_addr, l);
    addr_from_v6(t->remote_addr, r);
  }
  t->local_port = (__u16)ops->local_port;              /* host order */
  t->remote_port = (__u16)bpf_ntohl(ops->remote_port); /* network order in the upper half */
  t->pad = 0;
}

static __always_inline void swap_ends(struct pgw_tuple *t) {
  struct pgw_tuple s = *t;
  __builtin_memcpy(t->local_addr, s.remote_addr, 16);
  __builtin_memcpy(t->remote_addr, s.local_addr, 16);
  t->local_port = s.remote_port;
  t->remote_port = s.local_port;
}

static __always_inline int fast_path_on(void) {
  struct pgw_config *cfg = current_config();
  return cfg && cfg->fast_path;
}

/*
 * Is the client's socket non-blocking (O_NONBLOCK on its file) now that its
 * connect completed? Only such a client may take the fast path.
 *
 * A socket in a SOCKHASH is read by tcp_bpf_recvmsg (net/ipv4/tcp_bpf.c)
 * instead of tcp_recvmsg. When a blocking read finds nothing queued it waits
 * once (tcp_msg_wait_data) and, if it was woken without data, returns
 * -EAGAIN instead of waiting again. Anything that wakes the socket's wait
 * queue does that: the ACK of the client's own FIN (FIN_WAIT1 -> FIN_WAIT2
 * calls sk_state_change), write space for a writer thread of its own, an
 * error. So a client reading from a blocking socket while it half-closes it,
 * or while another thread writes to it, gets EAGAIN from a read that must
 * block; a reader that takes that for the end of the stream stops short of
 * the bytes still coming (they are not lost: a second read returns them).
 * A non-blocking client (libpq, JDBC, Go, Python sockets with a timeout,
 * every event loop) expects EAGAIN and polls again; a blocking one stays on
 * the TCP path, which behaves exactly as without pgwarden.
 *
 * Unknown (no file, e.g. a kernel socket) counts as blocking.
 */
static __always_inline int client_is_nonblocking(struct bpf_sock_ops *ops) {
  struct bpf_sock *sk = ops->sk;
  if (!sk)
    return 0;
  struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
  if (!tp)
    return 0;
  struct socket *so = tp->inet_conn.icsk_inet.sk.sk_socket;
  if (!so)
    return 0;
  struct file *f = so->file;
  if (!f)
    return 0;
  return (f->f_flags & PGW_O_NONBLOCK) != 0;
}

static __always_inline void on_client_established(struct bpf_sock_ops *ops) {
  struct pgw_origin *o = client_record(ops->sk);
  if (!o)
    return;
  struct pgw_tuple key = {};
  tuple_of(ops, &key);
  /* Bytes already sent the TCP way (TCP Fast Open data in the SYN) would be
   * read after later redirected ones: this end then stays on TCP. */
  if (ops->data_segs_out)
    o->tx_path = PGW_TX_TCP;
  /* Decided here, once: the engine's end joins the SOCKHASH only when this
   * end did (PGW_F_IN_SOCKHASH travels with the pending record), so a
   * connection is fast-pathed at both ends or at neither. */
  if (fast_path_on() && client_is_nonblocking(ops) &&
      bpf_sock_hash_update(ops, &pgw_sockhash, &key, BPF_ANY) == 0) {
    o->flags |= PGW_F_IN_SOCKHASH;
    count(PGW_STAT_SOCKHASH_ADDED, 1);
  }
  if (bpf_map_update_elem(&pgw_pending, &key, o, BPF_ANY))
    return;
  /* Ask for state changes so the close can drop an entry nobody took. */
  bpf_sock_ops_cb_flags_set(ops, ops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void on_engine_accepted(struct bpf_sock_ops *ops) {
  struct bpf_sock *sk = ops->sk;
  if (!sk)
    return;
  struct pgw_tuple key = {};
  tuple_of(ops, &key);
  swap_ends(&key); /* the pending entry is keyed from the client's side */
  struct pgw_origin *pending = bpf_map_lookup_elem(&pgw_pending, &key);
  if (!pending)
    return; /* not a redirected connection */
  struct pgw_origin rec = *pending;
  bpf_map_delete_elem(&pgw_pending, &key);
  const int client_in_sockhash = (rec.flags & PGW_F_IN_SOCKHASH) != 0;

  rec.role = PGW_ROLE_ACCEPTED;
  rec.tx_path = ops->data_segs_out ? PGW_TX_TCP : PGW_TX_UNDECIDED;
  rec.flags = 0;
  struct pgw_origin *o = bpf_sk_storage_get(&pgw_origin, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!o)
    return;
  *o = rec;
  count(PGW_STAT_ACCEPT_MATCHED, 1);

  swap_ends(&key); /* back to this end's own view */
  if (client_in_sockhash && bpf_sock_hash_update(ops, &pgw_sockhash, &key, BPF_ANY) == 0) {
    o->flags |= PGW_F_IN_SOCKHASH;
    count(PGW_STAT_SOCKHASH_ADDED, 1);
  }
}

static __always_inline void on_client_closed(struct bpf_sock_ops *ops) {
  if (!client_record(ops->sk))
    return;
  struct pgw_tuple key = {};
  tuple_of(ops, &key);
  bpf_map_delete_elem(&pgw_pending, &key);
}

SEC("sockops")
int pgw_sockops(struct bpf_sock_ops *ops) {
  switch (ops->op) {
  case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
    on_client_established(ops);
    break;
  case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
    on_engine_accepted(ops);
    break;
  case BPF_SOCK_OPS_STATE_CB:
    if (ops->args[1] == BPF_TCP_CLOSE)
      on_client_closed(ops);
    break;
  default:
    break;
  }
  return 1;
}

/* ---- sk_msg ------------------------------------------------------------- */

/*
 * Runs on every sendmsg of a socket in pgw_sockhash. Each direction of a TCP
 * connection is its own ordered byte stream, and its receiver reads redirected
 * bytes (psock queue) before bytes that came the TCP way. So each sending end
 * decides once, at its first send: if its peer is in pgw_sockhash then, all of
 * its bytes are redirected; if not, all of them go the TCP way. Never switch
 * mid-stream. A peer missing later (it closed) means plain TCP (SK_PASS), never
 * a drop: bpf_msg_redirect_hash to an absent key would make the sender's
 * write fail with EPERM.
 */
SEC("sk_msg")
int pgw_sk_msg(struct sk_msg_md *msg) {
  struct bpf_sock *sk = msg->sk;
  if (!sk)
    return SK_PASS;
  struct pgw_origin *o = bpf_sk_storage_get(&pgw_origin, sk, 0, 0);
  if (!o || o->tx_path == PGW_TX_TCP) {
    count(PGW_STAT_TCP_BYTES, msg->size);
    return SK_PASS;
  }

  struct pgw_tuple peer = {};
  if (msg->family == AF_INET) {
    addr_from_v4(peer.local_addr, msg->remote_ip4);
    addr_from_v4(peer.remote_addr, msg->local_ip4);
  } else {
    __u32 r[4] = {msg->remote_ip6[0], msg->remote_ip6[1], msg->remote_ip6[2],
                  msg->remote_ip6[3]};
    __u32 l[4] = {msg->local_ip6[0], msg->local_ip6[1], msg->local_ip6[2],
                  msg->local_ip6[3]};
    addr_from_v6(peer.local_addr, r);
    addr_from_v6(peer.remote_addr, l);
  }
  peer.local_port = (__u16)bpf_ntohl(msg->remote_port);
  peer.remote_port = (__u16)msg->local_port;

  if (bpf_msg_redirect_hash(msg, &pgw_sockhash, &peer, BPF_F_INGRESS) == SK_PASS) {
    if (o->tx_path == PGW_TX_UNDECIDED)
      o->tx_path = PGW_TX_FAST;
    count(PGW_STAT_FAST_BYTES, msg->size);
    return SK_PASS;
  }
  if (o->tx_path == PGW_TX_UNDECIDED)
    o->tx_path = PGW_TX_TCP;
  count(PGW_STAT_TCP_BYTES, msg->size);
  return SK_PASS;
}

/* ---- connect_unix / getpeername_unix (kernel >= 6.7) --------------------- */

/*
 * libbpf 1.1 (Debian 12) knows no section name for these attach types, so
 * the programs are declared as sock_addr programs here and the loader gives
 * them BPF_CGROUP_UNIX_CONNECT / BPF_CGROUP_UNIX_GETPEERNAME before loading
 * (userspace/kernel/interceptor.cpp), or does not load them at all on a
 * kernel without the hooks. The kfuncs are weak for the same kernels.
 */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
extern int bpf_sock_addr_set_sun_path(struct bpf_sock_addr_kern *sa_kern, const __u8 *sun_path,
                                      __u32 sun_path__sz) __ksym __weak;

/* The path the caller named, NUL-padded; 0 for an unnamed or abstract
 * address (abstract sockets are not files and are not intercepted). */
static __always_inline int user_sun_path(struct bpf_sock_addr *ctx, struct pgw_unix_path *out) {
  struct bpf_sock_addr_kern *sa = bpf_cast_to_kern_ctx(ctx);
  const __u32 family_len = sizeof(__u16);
  __u32 len = sa->uaddrlen;
  if (len <= family_len)
    return 0;
  len -= family_len;
  struct sockaddr_un *un = bpf_rdonly_cast(sa->uaddr, bpf_core_type_id_kernel(struct sockaddr_un));
  /* Unrolled (so no break): the verifier allows only constant offsets into
   * kernel memory. Bytes after the first NUL or past the length stay 0. */
  int ended = 0;
#pragma clang loop unroll(full)
  for (__u32 i = 0; i < PGW_UNIX_PATH_LEN; i++) {
    char c = i < len ? un->sun_path[i] : 0;
    if (c == 0)
      ended = 1;
    if (!ended)
      out->path[i] = c;
  }
  return out->path[0] != 0;
}

static __always_inline __u32 path_len(const struct pgw_unix_path *p) {
  __u32 n = 0;
  for (__u32 i = 0; i < PGW_UNIX_PATH_LEN; i++) {
    if (p->path[i] == 0)
      break;
    n++;
  }
  return n;
}

/* The inode number of a unix socket: what sock_diag reports as the engine's
 * accepted socket's peer. 0 when it cannot be read. */
static __always_inline __u64 socket_inode(struct sock *sk) {
  if (!sk)
    return 0;
  struct socket *so = sk->sk_socket;
  if (!so)
    return 0;
  struct file *f = so->file;
  if (!f)
    return 0;
  struct inode *ino = f->f_inode;
  if (!ino)
    return 0;
  return ino->i_ino;
}

SEC("cgroup/connect4") /* attach type set by the loader: BPF_CGROUP_UNIX_CONNECT */
int pgw_connect_unix(struct bpf_sock_addr *ctx) {
  if (ctx->type != SOCK_STREAM)
    return 1;
  struct bpf_sock *sk = ctx->sk;
  if (!sk)
    return 1;
  struct pgw_unix_path asked = {};
  if (!user_sun_path(ctx, &asked) || !bpf_map_lookup_elem(&pgw_unix_paths, &asked) || is_own_socket(ctx))
    return 1;

  __u32 zero = 0;
  struct pgw_unix_config *ucfg = bpf_map_lookup_elem(&pgw_unix_config, &zero);
  struct pgw_state *st;
  if (!engine_alive(&st) || !ucfg)
    return stale_engine_verdict(st);
  __u32 target_len = ucfg->target_len;
  if (target_len == 0 || target_len > PGW_UNIX_PATH_LEN)
    return stale_engine_verdict(st);

  /* Without its record the engine could not tell who connected: refuse. */
  struct unix_sock *u = bpf_skc_to_unix_sock(sk);
  const __u64 ino = u ? socket_inode(&u->sk) : 0;
  if (!ino)
    return 0;
  struct pgw_unix_origin rec = {};
  struct pgw_unix_origin *o = &rec;
  __builtin_memcpy(&o->original, &asked, sizeof(asked));
  __u64 pid_tgid = bpf_get_current_pid_tgid();
  __u64 uid_gid = bpf_get_current_uid_gid();
  o->tgid = pid_tgid >> 32;
  o->uid = (__u32)uid_gid;
  o->gid = uid_gid >> 32;
  o->cgroup_id = bpf_get_current_cgroup_id();
  bpf_get_current_comm(o->comm, sizeof(o->comm));
  o->role = PGW_ROLE_CLIENT;
  if (bpf_map_update_elem(&pgw_unix_pend, &ino, o, BPF_ANY))
    return 0;

  if (bpf_sock_addr_set_sun_path(bpf_cast_to_kern_ctx(ctx), (const __u8 *)ucfg->target.path, target_len))
    return 0;
  count(PGW_STAT_CONNECT_REDIRECTED, 1);
  return 1;
}

SEC("cgroup/getpeername4") /* attach type set by the loader: BPF_CGROUP_UNIX_GETPEERNAME */
int pgw_peername_unix(struct bpf_sock_addr *ctx) {
  /* The kernel runs this hook on the peer of the socket asked about (for the
   * client: the engine's end); the record is on that peer's peer. */
  struct bpf_sock *sk = ctx->sk;
  if (!sk)
    return 1;
  struct unix_sock *u = bpf_skc_to_unix_sock(sk);
  if (!u)
    return 1;
  const __u64 ino = socket_inode(u->peer);
  if (!ino)
    return 1;
  struct pgw_unix_origin *o = bpf_map_lookup_elem(&pgw_unix_pend, &ino);
  if (!o || o->role != PGW_ROLE_CLIENT)
    return 1;
  __u32 len = path_len(&o->original);
  if (len == 0 || len > PGW_UNIX_PATH_LEN)
    return 1;
  bpf_sock_addr_set_sun_path(bpf_cast_to_kern_ctx(ctx), (const __u8 *)o->original.path, len);
  return 1;
}
