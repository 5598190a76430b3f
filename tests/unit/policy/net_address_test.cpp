#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "policy/net_address.h"

namespace pgw::policy {
namespace {

NetAddress addr(std::string_view text) {
  auto r = NetAddress::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? *r : NetAddress{};
}

NetPrefix prefix(std::string_view text,
                 NetPrefix::PortRule rule = NetPrefix::PortRule::optional) {
  auto r = NetPrefix::parse(text, rule);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? *r : NetPrefix{};
}

TEST(NetAddress, ParsesV4AndV6) {
  EXPECT_EQ(addr("127.0.0.1:5432").to_string(), "127.0.0.1:5432");
  EXPECT_EQ(addr("[::1]:15432").to_string(), "[::1]:15432");
  EXPECT_EQ(addr("[fd00::5]:1").to_string(), "[fd00::5]:1");
  EXPECT_EQ(addr("localhost:5432").to_string(), "127.0.0.1:5432");
  EXPECT_EQ(addr("127.0.0.1:65535").port, 65535);
}

TEST(NetAddress, RejectsNamesBadPortsAndUnbracketedV6) {
  for (const char* bad : {"db.example.com:5432", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:54x", "::1:5432", "[::1]", "[::1]5432",
                          "[::1:5432", "", ":5432", "256.0.0.1:5432", "127.0.0.1:+5"}) {
    EXPECT_FALSE(NetAddress::parse(bad).ok()) << bad;
  }
  auto r = NetAddress::parse("db.example.com:5432");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("numeric IP"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("\"db.example.com:5432\""), std::string::npos) << r.error();
}

TEST(NetAddress, V4MappedV6IsNormalisedToV4) {
  NetAddress a = addr("[::ffff:10.1.2.3]:5432");
  EXPECT_TRUE(a.is_ipv4());
  EXPECT_EQ(a, addr("10.1.2.3:5432"));
  EXPECT_EQ(a.to_string(), "10.1.2.3:5432");

  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(5432);
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:127.0.0.3", &in6.sin6_addr), 1);
  auto from_kernel = NetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&in6), sizeof in6);
  ASSERT_TRUE(from_kernel.has_value());
  EXPECT_EQ(*from_kernel, addr("127.0.0.3:5432"));
}

TEST(NetAddress, SockaddrRoundTrip) {
  for (const char* text : {"127.0.0.3:5432", "[::1]:15432", "[2001:db8::1]:1"}) {
    NetAddress a = addr(text);
    sockaddr_storage ss;
    socklen_t len = a.to_sockaddr(ss);
    EXPECT_EQ(ss.ss_family, a.is_ipv4() ? AF_INET : AF_INET6);
    EXPECT_EQ(len, a.is_ipv4() ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    auto back = NetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, a) << text;
  }
  sockaddr sa{};
  sa.sa_family = AF_UNIX;
  EXPECT_FALSE(NetAddress::from_sockaddr(&sa, sizeof sa).has_value());
  EXPECT_FALSE(NetAddress::from_sockaddr(nullptr, 0).has_value());
}

TEST(NetPrefix, CidrContainment) {
  NetPrefix lo = prefix("127.0.0.0/8");
  EXPECT_TRUE(lo.contains(addr("127.0.0.1:1")));
  EXPECT_TRUE(lo.contains(addr("127.255.255.255:60000")));
  EXPECT_FALSE(lo.contains(addr("128.0.0.1:1")));
  EXPECT_FALSE(lo.contains(addr("[::1]:1")));

  NetPrefix odd = prefix("10.0.0.128/25");
  EXPECT_TRUE(odd.contains(addr("10.0.0.200:1")));
  EXPECT_FALSE(odd.contains(addr("10.0.0.127:1")));

  NetPrefix all = prefix("0.0.0.0/0");
  EXPECT_TRUE(all.contains(addr("203.0.113.9:5")));

  NetPrefix v6 = prefix("fd00::/8");
  EXPECT_TRUE(v6.contains(addr("[fd12::1]:5432")));
  EXPECT_FALSE(v6.contains(addr("[fe80::1]:5432")));
  EXPECT_FALSE(v6.contains(addr("10.0.0.1:5432")));

  NetPrefix host = prefix("::1");
  EXPECT_EQ(host.prefix_len, 128);
  EXPECT_TRUE(host.contains(addr("[::1]:9")));
}

TEST(NetPrefix, HostBitsAreZeroed) {
  NetPrefix p = prefix("10.1.2.3/8");
  EXPECT_EQ(p.to_string(), "10.0.0.0/8");
  EXPECT_TRUE(p.contains(addr("10.200.0.1:1")));
}

TEST(NetPrefix, PortsAreMatchedWhenGiven) {
  NetPrefix p = prefix("127.0.0.3:5432", NetPrefix::PortRule::required);
  EXPECT_EQ(p.prefix_len, 32);
  EXPECT_TRUE(p.contains(addr("127.0.0.3:5432")));
  EXPECT_FALSE(p.contains(addr("127.0.0.3:5433")));
  EXPECT_FALSE(p.contains(addr("127.0.0.4:5432")));

  NetPrefix net = prefix("10.0.0.0/8:5432", NetPrefix::PortRule::required);
  EXPECT_TRUE(net.contains(addr("10.9.9.9:5432")));
  EXPECT_FALSE(net.contains(addr("10.9.9.9:6432")));
  EXPECT_EQ(net.to_string(), "10.0.0.0/8:5432");

  NetPrefix v6a = prefix("[fd00::]/8:5432", NetPrefix::PortRule::required);
  NetPrefix v6b = prefix("[fd00::/8]:5432", NetPrefix::PortRule::required);
  EXPECT_EQ(v6a, v6b);
  EXPECT_TRUE(v6a.contains(addr("[fd00::7]:5432")));
  EXPECT_FALSE(v6a.contains(addr("[fd00::7]:5433")));
  // to_string output parses back to the same prefix.
  EXPECT_EQ(prefix(v6a.to_string(), NetPrefix::PortRule::required), v6a);
}

TEST(NetPrefix, PortRulesAreEnforced) {
  EXPECT_FALSE(NetPrefix::parse("127.0.0.3", NetPrefix::PortRule::required).ok());
  EXPECT_FALSE(NetPrefix::parse("10.0.0.0/8", NetPrefix::PortRule::required).ok());
  EXPECT_FALSE(NetPrefix::parse("127.0.0.0/8:5432", NetPrefix::PortRule::forbidden).ok());
  EXPECT_FALSE(NetPrefix::parse("[::1]:5432", NetPrefix::PortRule::forbidden).ok());
  EXPECT_TRUE(NetPrefix::parse("127.0.0.0/8", NetPrefix::PortRule::forbidden).ok());
}

TEST(NetPrefix, V4MappedPrefixesBecomeV4) {
  NetPrefix p = prefix("::ffff:10.0.0.0/104");
  EXPECT_TRUE(p.base.is_ipv4());
  EXPECT_EQ(p.prefix_len, 8);
  EXPECT_TRUE(p.contains(addr("10.3.3.3:1")));
  EXPECT_TRUE(p.contains(addr("[::ffff:10.3.3.3]:1")));
  EXPECT_FALSE(NetPrefix::parse("::ffff:10.0.0.0/64", NetPrefix::PortRule::optional).ok());

  // A v4 prefix covers a v4-mapped address even if a caller built it by hand.
  NetAddress mapped;
  mapped.family = NetAddress::Family::ipv6;
  mapped.bytes = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  EXPECT_TRUE(prefix("127.0.0.0/8").contains(mapped));
}

TEST(NetPrefix, RejectsMalformed) {
  for (const char* bad : {"", "/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "fd00::/129",
                          "example.com/8", "localhost", "10.0.0.0/8:", "10.0.0.0/8:99999",
                          "[fd00::", "[fd00::]/8/9", "[fd00::]x", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(NetPrefix::parse(bad, NetPrefix::PortRule::optional).ok()) << bad;
  }
}

}  // namespace
}  // namespace pgw::policy
