// The libcurl client: methods, bodies and headers reach the server as sent;
// failures are one clear sentence.
#include "admin/http_client.h"

#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "admin/http_server.h"
#include "http_test_support.h"

namespace pgw::admin {
namespace {

using test::TempDir;

// A port nothing listens on: bound, never listened, closed.
uint16_t closed_port() {
  HttpServer probe(HttpListen::tcp_address(*policy::NetAddress::parse_ip("127.0.0.1", 0)));
  EXPECT_TRUE(probe.start());
  uint16_t port = probe.bound_address()->port;
  probe.stop();
  return port;
}

TEST(HttpClient, SendsMethodBodyAndHeaders) {
  TempDir dir;
  HttpServer server(HttpListen::unix_socket(dir / "api.sock"));
  for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
    server.add(method, "/r", [](const HttpRequest& r) {
      const std::string* type = r.header("content-type");
      return HttpResponse::json(201, {{"method", r.method},
                                      {"body", r.body},
                                      {"type", type ? *type : ""},
                                      {"expect", r.header("expect") != nullptr}});
    });
  }
  ASSERT_TRUE(server.start());
  auto target = HttpTarget::unix_path(dir / "api.sock");
  for (const char* method : {"GET", "POST", "PUT", "DELETE", "PATCH"}) {
    std::string body = std::string(method) == "GET" ? "" : std::string(5000, 'b');  // past curl's Expect threshold
    auto r = http_request(target, method, "/r", body, {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r) << method << ": " << r.error();
    EXPECT_EQ(r->status, 201);
    auto j = nlohmann::json::parse(r->body);
    EXPECT_EQ(j["method"], method);
    EXPECT_EQ(j["body"], body);
    EXPECT_EQ(j["type"], "application/json");
    EXPECT_EQ(j["expect"], false) << "no 100-continue round trip";
  }
  // An HTTP error status is an answer, not a failure.
  auto r = http_request(target, "GET", "/missing");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
}

TEST(HttpClient, UnreachableDaemonSaysWhereAndWhy) {
  TempDir dir;
  std::string path = dir / "admin.sock";
  auto r = http_request(HttpTarget::unix_path(path), "GET", "/v1/status");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "cannot reach the pgwarden daemon at " + path + ": No such file or directory");

  // A socket file nobody listens on.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  r = http_request(HttpTarget::unix_path(path), "GET", "/v1/status");
  ::close(fd);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "cannot reach the pgwarden daemon at " + path + ": Connection refused");
}

TEST(HttpClient, UnreachableUrlNamesTheHostAndCurlsReason) {
  uint16_t port = closed_port();
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto r = http_request(HttpTarget::url(base + "/hooks/secret-token"), "POST", "", "{}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rfind("cannot reach " + base + "/…: ", 0), 0u) << r.error();
  EXPECT_EQ(r.error().find("secret-token"), std::string::npos) << r.error();
}

TEST(HttpClient, TimesOut) {
  HttpServer server(HttpListen::tcp_address(*policy::NetAddress::parse_ip("127.0.0.1", 0)));
  server.add("GET", "/slow", [](const HttpRequest&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    return HttpResponse::text(200, "late");
  });
  ASSERT_TRUE(server.start());
  std::string base = "http://" + server.bound_address()->to_string();
  auto r = http_request(HttpTarget::url(base), "GET", "/slow", {}, {}, std::chrono::milliseconds(200));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().rfind("no answer from " + base + " within 200 ms: ", 0), 0u) << r.error();
}

TEST(HttpClient, RedactsUrls) {
  EXPECT_EQ(redact_url("https://user:pw@hooks.example.com:8443/services/T0/B0/XyZ?x=1"),
            "https://hooks.example.com:8443/…");
  EXPECT_EQ(redact_url("http://127.0.0.1:9000"), "http://127.0.0.1:9000");
  EXPECT_EQ(redact_url("http://example.com/"), "http://example.com");
  EXPECT_EQ(redact_url("http://example.com/?token=abc"), "http://example.com/…");
  EXPECT_EQ(redact_url("http://[::1]:80/x"), "http://[::1]:80/…");
  EXPECT_EQ(redact_url("not a url at all"), "(invalid URL)");
}

}  // namespace
}  // namespace pgw::admin
