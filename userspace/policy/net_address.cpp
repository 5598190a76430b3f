#include "policy/net_address.h"

#include "common/quote.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace pgw::policy {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const std::array<uint8_t, 16>& b) {
  return std::memcmp(b.data(), kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0;
}

// ::ffff:a.b.c.d becomes a.b.c.d, so one rule covers both socket families.
void normalise(NetAddress& a) {
  if (a.family == NetAddress::Family::ipv6 && is_v4_mapped(a.bytes)) {
    std::array<uint8_t, 16> v4{};
    std::memcpy(v4.data(), a.bytes.data() + 12, 4);
    a.bytes = v4;
    a.family = NetAddress::Family::ipv4;
  }
}

std::optional<uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 1 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

std::optional<uint8_t> parse_prefix_len(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value > max) return std::nullopt;
  return static_cast<uint8_t>(value);
}

unsigned max_prefix(const NetAddress& a) { return a.is_ipv4() ? 32 : 128; }

void zero_host_bits(NetAddress& a, unsigned prefix_len) {
  for (unsigned i = 0; i < 16; ++i) {
    unsigned bit = i * 8;
    if (bit >= prefix_len) {
      a.bytes[i] = 0;
    } else if (bit + 8 > prefix_len) {
      a.bytes[i] &= static_cast<uint8_t>(0xff << (8 - (prefix_len - bit)));
    }
  }
}

}  // namespace

NetAddress NetAddress::ipv4(uint32_t host_order_addr, uint16_t port) {
  NetAddress a;
  a.family = Family::ipv4;
  uint32_t be = htonl(host_order_addr);
  std::memcpy(a.bytes.data(), &be, 4);
  a.port = port;
  return a;
}

std::optional<NetAddress> NetAddress::parse_ip(std::string_view text, uint16_t port) {
  if (text == "localhost") return ipv4(INADDR_LOOPBACK, port);
  // inet_pton needs a NUL-terminated string; the longest IPv6 text form is 45 chars.
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';

  NetAddress a;
  a.port = port;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = Family::ipv4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = Family::ipv6;
    normalise(a);
    return a;
  }
  return std::nullopt;
}

Result<NetAddress> NetAddress::parse(std::string_view text) {
  std::string_view host, port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("expected [ipv6]:port, got " + quote_for_message(text));
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error("expected host:port, got " + quote_for_message(text));
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return make_error("an IPv6 address needs brackets, as in [::1]:5432, got " + quote_for_message(text));
    }
  }
  auto port = parse_port(port_text);
  if (!port) return make_error("expected a port 1..65535 after the colon, got " + quote_for_message(text));
  auto addr = parse_ip(host, *port);
  if (!addr) {
    return make_error("expected a numeric IP address (host names other than localhost are "
                      "not resolved), got " + quote_for_message(text));
  }
  return *addr;
}

std::optional<NetAddress> NetAddress::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa == nullptr) return std::nullopt;
  NetAddress a;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in in;
    std::memcpy(&in, sa, sizeof in);
    a.family = Family::ipv4;
    std::memcpy(a.bytes.data(), &in.sin_addr, 4);
    a.port = ntohs(in.sin_port);
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 in6;
    std::memcpy(&in6, sa, sizeof in6);
    a.family = Family::ipv6;
    std::memcpy(a.bytes.data(), &in6.sin6_addr, 16);
    a.port = ntohs(in6.sin6_port);
    normalise(a);
    return a;
  }
  return std::nullopt;
}

socklen_t NetAddress::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (is_ipv4()) {
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    std::memcpy(&in.sin_addr, bytes.data(), 4);
    std::memcpy(&out, &in, sizeof in);
    return sizeof in;
  }
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(port);
  std::memcpy(&in6.sin6_addr, bytes.data(), 16);
  std::memcpy(&out, &in6, sizeof in6);
  return sizeof in6;
}

std::string NetAddress::ip_string() const {
  char buf[INET6_ADDRSTRLEN];
  const char* s = inet_ntop(is_ipv4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return s ? std::string(s) : std::string("?");
}

std::string NetAddress::to_string() const {
  std::string ip = ip_string();
  if (!is_ipv4()) ip = "[" + ip + "]";
  return ip + ":" + std::to_string(port);
}

Result<NetPrefix> NetPrefix::parse(std::string_view text, PortRule port_rule) {
  auto bad = [&](std::string_view why) {
    return make_error(std::string(why) + ", got " + quote_for_message(text));
  };
  std::string_view ip_text, len_text, port_text;
  bool has_len = false, has_port = false;

  if (!text.empty() && text.front() == '[') {
    // [v6], [v6]/len, [v6/len], each optionally followed by :port
    size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']' after an IPv6 address");
    std::string_view inner = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (size_t slash = inner.find('/'); slash != std::string_view::npos) {
      ip_text = inner.substr(0, slash);
      len_text = inner.substr(slash + 1);
      has_len = true;
    } else {
      ip_text = inner;
    }
    if (!rest.empty() && rest.front() == '/') {
      if (has_len) return bad("two prefix lengths");
      size_t colon = rest.find(':');
      len_text = rest.substr(1, colon == std::string_view::npos ? std::string_view::npos : colon - 1);
      has_len = true;
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon);
    }
    if (!rest.empty()) {
      if (rest.front() != ':') return bad("unexpected text after ']'");
      port_text = rest.substr(1);
      has_port = true;
    }
  } else if (std::count(text.begin(), text.end(), ':') > 1) {
    // A bare IPv6 address or prefix: no room for a port without brackets.
    size_t slash = text.find('/');
    ip_text = text.substr(0, slash);
    if (slash != std::string_view::npos) {
      len_text = text.substr(slash + 1);
      has_len = true;
    }
  } else {
    std::string_view addr_part = text;
    if (size_t colon = text.find(':'); colon != std::string_view::npos) {
      addr_part = text.substr(0, colon);
      port_text = text.substr(colon + 1);
      has_port = true;
    }
    size_t slash = addr_part.find('/');
    ip_text = addr_part.substr(0, slash);
    if (slash != std::string_view::npos) {
      len_text = addr_part.substr(slash + 1);
      has_len = true;
    }
  }

  if (ip_text == "localhost") return bad("expected a numeric IP address or CIDR");
  auto ip = NetAddress::parse_ip(ip_text);
  if (!ip) {
    return bad("expected a numeric IP address or CIDR (host names are not resolved)");
  }
  NetPrefix p;
  p.base = *ip;

  // Parse the length against the address as written, then follow the
  // address's v4-mapped normalisation: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
  bool was_mapped_v6 = ip->is_ipv4() && ip_text.find(':') != std::string_view::npos;
  unsigned written_max = was_mapped_v6 ? 128 : max_prefix(p.base);
  unsigned len = written_max;
  if (has_len) {
    auto parsed = parse_prefix_len(len_text, written_max);
    if (!parsed) return bad("expected a prefix length 0.." + std::to_string(written_max));
    len = *parsed;
  }
  if (was_mapped_v6) {
    if (len < 96) return bad("a v4-mapped IPv6 prefix must be /96 or longer");
    len -= 96;
  }
  p.prefix_len = static_cast<uint8_t>(len);
  zero_host_bits(p.base, len);

  if (has_port) {
    if (port_rule == PortRule::forbidden) return bad("expected an address or CIDR without a port");
    auto port = parse_port(port_text);
    if (!port) return bad("expected a port 1..65535");
    p.port = *port;
    p.base.port = *port;
  } else if (port_rule == PortRule::required) {
    return bad("expected host:port or CIDR:port");
  }
  return p;
}

bool NetPrefix::contains(const NetAddress& raw) const {
  // Callers normally pass normalised addresses; a hand-built ::ffff:a.b.c.d
  // still counts as a.b.c.d.
  NetAddress addr = raw;
  normalise(addr);
  if (addr.family != base.family) return false;
  if (port && addr.port != *port) return false;
  unsigned full_bytes = prefix_len / 8;
  if (std::memcmp(addr.bytes.data(), base.bytes.data(), full_bytes) != 0) return false;
  unsigned rest_bits = prefix_len % 8;
  if (rest_bits == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest_bits));
  return (addr.bytes[full_bytes] & mask) == base.bytes[full_bytes];
}

std::string NetPrefix::to_string() const {
  // Appends only: GCC 12 at -O2 misreads `"x" + std::string` (an insert at
  // the front) as an overlapping memcpy and warns (-Wrestrict, GCC bug 105329).
  const bool bracketed = !base.is_ipv4() && port;
  std::string s;
  if (bracketed) s += '[';
  s += base.ip_string();
  if (prefix_len != max_prefix(base)) {
    s += '/';
    s += std::to_string(prefix_len);
  }
  if (bracketed) s += ']';
  if (port) {
    s += ':';
    s += std::to_string(*port);
  }
  return s;
}

}  // namespace pgw::policy
