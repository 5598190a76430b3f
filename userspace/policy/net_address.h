// Socket addresses as pgwarden's config and identity code see them: one small
// value type for IPv4 and IPv6 with a port, and a prefix (CIDR) type that can
// match them. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what Java drivers use
// on dual-stack sockets) are normalised to plain IPv4 on the way in, so a rule
// written as 127.0.0.0/8 covers a client that connected through an IPv6 socket.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::policy {

struct NetAddress {
  enum class Family : uint8_t { ipv4, ipv6 };

  Family family = Family::ipv4;
  // Network byte order. IPv4 uses the first 4 bytes; the rest stay zero so
  // that defaulted comparison works.
  std::array<uint8_t, 16> bytes{};
  uint16_t port = 0;  // host byte order

  static NetAddress ipv4(uint32_t host_order_addr, uint16_t port);

  // A numeric IP ("127.0.0.1", "::1", "::ffff:10.0.0.1") without a port.
  // "localhost" is accepted as 127.0.0.1; no other name is resolved (the
  // engine never blocks its loop on DNS).
  static std::optional<NetAddress> parse_ip(std::string_view text, uint16_t port = 0);

  // "host:port" or "[v6]:port". The error says what was wrong, without a key
  // path: the config loader adds the location.
  static Result<NetAddress> parse(std::string_view host_port);

  // From a kernel sockaddr (accept(), getpeername(), the eBPF record).
  static std::optional<NetAddress> from_sockaddr(const sockaddr* sa, socklen_t len);

  // Fills `out` and returns the length to pass to connect()/bind().
  socklen_t to_sockaddr(sockaddr_storage& out) const;

  std::string ip_string() const;  // "127.0.0.1", "::1"
  std::string to_string() const;  // "127.0.0.1:5432", "[::1]:5432"

  bool is_ipv4() const { return family == Family::ipv4; }

  friend bool operator==(const NetAddress&, const NetAddress&) = default;
};

// An address range with an optional port: "10.0.0.0/8", "127.0.0.3:5432",
// "10.0.0.0/8:5432", "[fd00::]/8:5432", "::1". A bare address is a /32 or /128.
struct NetPrefix {
  NetAddress base;                   // host bits below the prefix are zeroed
  uint8_t prefix_len = 0;            // 0..32 for IPv4, 0..128 for IPv6
  std::optional<uint16_t> port;      // absent: any port

  enum class PortRule { required, optional, forbidden };
  static Result<NetPrefix> parse(std::string_view text, PortRule port_rule);

  // True when `addr` lies in the range (and has the port, if one is given).
  // `addr` should already be normalised (NetAddress's constructors do it).
  bool contains(const NetAddress& addr) const;

  std::string to_string() const;

  friend bool operator==(const NetPrefix&, const NetPrefix&) = default;
};

}  // namespace pgw::policy
