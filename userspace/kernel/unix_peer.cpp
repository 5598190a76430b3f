#include "kernel/unix_peer.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pgw::kernel {

namespace {
Error sys_error(const std::string& what) { return make_error(what + ": " + std::strerror(errno)); }
}  // namespace

Result<uint64_t> unix_peer_inode(int fd) {
  struct stat st{};
  if (::fstat(fd, &st) != 0) return sys_error("fstat");

  const int nl = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (nl < 0) return sys_error("netlink socket");
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } request{};
  request.nlh.nlmsg_len = sizeof(request);
  request.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  request.nlh.nlmsg_flags = NLM_F_REQUEST;
  request.req.sdiag_family = AF_UNIX;
  request.req.udiag_states = ~0u;
  request.req.udiag_ino = static_cast<uint32_t>(st.st_ino);
  request.req.udiag_show = UDIAG_SHOW_PEER;
  request.req.udiag_cookie[0] = ~0u;  // INET_DIAG_NOCOOKIE: look up by inode alone
  request.req.udiag_cookie[1] = ~0u;
  if (::send(nl, &request, sizeof(request), 0) != static_cast<ssize_t>(sizeof(request))) {
    Error e = sys_error("sock_diag request");
    ::close(nl);
    return e;
  }
  alignas(nlmsghdr) char buffer[8192];
  const ssize_t n = ::recv(nl, buffer, sizeof(buffer), 0);
  const int recv_errno = errno;
  ::close(nl);
  if (n < 0) {
    errno = recv_errno;
    return sys_error("sock_diag reply");
  }
  auto remaining = static_cast<unsigned>(n);
  for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
    if (h->nlmsg_type == NLMSG_ERROR) {
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      return make_error(std::string("sock_diag: ") + std::strerror(-err->error));
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    const auto* msg = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
    int attr_len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg)));
    for (auto* a = reinterpret_cast<rtattr*>(const_cast<unix_diag_msg*>(msg) + 1); RTA_OK(a, attr_len);
         a = RTA_NEXT(a, attr_len)) {
      if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
        uint32_t peer = 0;
        std::memcpy(&peer, RTA_DATA(a), sizeof(peer));
        return static_cast<uint64_t>(peer);
      }
    }
    return make_error("sock_diag: the socket has no peer");
  }
  return make_error("sock_diag: no answer for the socket");
}

}  // namespace pgw::kernel
