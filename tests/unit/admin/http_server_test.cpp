// HttpServer against real listeners: unix sockets in a private temp dir and
// TCP on loopback, driven by the libcurl client and by raw bytes.
#include "admin/http_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "admin/http_client.h"
#include "http_test_support.h"

namespace pgw::admin {
namespace {

using test::body_of;
using test::header_of;
using test::RawConnection;
using test::status_of;
using test::TempDir;

// A server with the routes the tests poke at.
void add_routes(HttpServer& server) {
  server.add("GET", "/ping", [](const HttpRequest&) { return HttpResponse::text(200, "pong\n"); });
  server.add("POST", "/echo", [](const HttpRequest& r) {
    return HttpResponse::json(200, {{"body", r.body}, {"size", r.body.size()}});
  });
  server.add("GET", "/v1/approvals/pending", [](const HttpRequest&) { return HttpResponse::json(200, {{"literal", true}}); });
  server.add("GET", "/v1/approvals/{id}", [](const HttpRequest& r) {
    return HttpResponse::json(200, {{"id", r.param("id")}});
  });
  server.add("POST", "/v1/approvals/{id}/approve", [](const HttpRequest& r) {
    nlohmann::json query = r.query;
    const std::string* agent = r.header("x-test-AGENT");
    return HttpResponse::json(200, {{"id", r.param("id")}, {"query", query}, {"agent", agent ? *agent : ""}});
  });
  server.add("DELETE", "/v1/approvals/{id}/approve", [](const HttpRequest&) { return HttpResponse::text(204, ""); });
  server.add("GET", "/whoami", [](const HttpRequest& r) {
    nlohmann::json j = nlohmann::json::object();
    if (r.peer_credentials) {
      j["uid"] = r.peer_credentials->uid;
      j["gid"] = r.peer_credentials->gid;
      j["pid"] = r.peer_credentials->pid;
    }
    if (r.peer_address) j["address"] = r.peer_address->ip_string();
    return HttpResponse::json(200, j);
  });
  server.add("GET", "/throw", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
  server.add("GET", "/throw-other", [](const HttpRequest&) -> HttpResponse { throw 42; });
  server.add("GET", "/own-cache-control", [](const HttpRequest&) {
    auto r = HttpResponse::text(200, "x");
    r.headers.emplace_back("cache-control", "max-age=5");
    return r;
  });
}

class HttpServerUnix : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_ / "run/pgwarden/admin.sock";  // parent dirs do not exist yet
    server_ = std::make_unique<HttpServer>(HttpListen::unix_socket(path_), options());
    add_routes(*server_);
    auto started = server_->start();
    ASSERT_TRUE(started) << started.error();
  }
  virtual HttpServerOptions options() {
    HttpServerOptions o;
    o.max_body = 1024;
    o.default_headers = {{"Content-Security-Policy", "default-src 'none'"}};
    return o;
  }

  Result<HttpReply> call(std::string_view method, std::string_view path, std::string_view body = {},
                         const HttpHeaders& headers = {}) {
    return http_request(HttpTarget::unix_path(path_), method, path, body, headers, std::chrono::seconds(5));
  }
  std::string raw(std::string_view bytes) {
    auto c = RawConnection::unix_socket(path_);
    EXPECT_TRUE(c.has_value());
    if (!c) return {};
    c->send(bytes);
    return c->read_until_close();
  }
  void expect_still_serving() {
    auto r = call("GET", "/ping");
    ASSERT_TRUE(r) << r.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "pong\n");
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerUnix, RoutesLiteralsParamsQueryHeadersAndBody) {
  auto r = call("GET", "/v1/approvals/pending");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(nlohmann::json::parse(r->body), nlohmann::json({{"literal", true}}));

  r = call("GET", "/v1/approvals/a17");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(nlohmann::json::parse(r->body)["id"], "a17");

  r = call("POST", "/v1/approvals/a17/approve?note=ok%20then&flag", "", {{"X-Test-Agent", "ci"}});
  ASSERT_TRUE(r) << r.error();
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["id"], "a17");
  EXPECT_EQ(j["query"]["note"], "ok then");
  EXPECT_EQ(j["query"]["flag"], "");
  EXPECT_EQ(j["agent"], "ci");

  r = call("POST", "/echo", "hello\nworld", {{"Content-Type", "text/plain"}});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(nlohmann::json::parse(r->body)["body"], "hello\nworld");
}

TEST_F(HttpServerUnix, SeesThePeersCredentials) {
  auto r = call("GET", "/whoami");
  ASSERT_TRUE(r) << r.error();
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["uid"], ::getuid());
  EXPECT_EQ(j["gid"], ::getgid());
  EXPECT_EQ(j["pid"], ::getpid());  // the client runs in this process
  EXPECT_FALSE(j.contains("address"));
}

TEST_F(HttpServerUnix, SocketIsMode0600InACreatedDirectory) {
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(HttpServerUnix, RefusesAPathAnotherLiveServerServes) {
  HttpServer second(HttpListen::unix_socket(path_));
  auto started = second.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), "another process is already serving " + path_);
  second.stop();
  expect_still_serving();  // the refused one neither unlinked nor disturbed it
}

TEST_F(HttpServerUnix, StopRemovesTheSocketAndIsIdempotent) {
  server_->stop();
  EXPECT_FALSE(std::filesystem::exists(path_));
  server_->stop();
  auto r = call("GET", "/ping");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "cannot reach the pgwarden daemon at " + path_ + ": No such file or directory");
}

TEST_F(HttpServerUnix, UnknownPathIs404) {
  std::string response = raw("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(response), 404) << response;
  EXPECT_EQ(header_of(response, "Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(body_of(response)), nlohmann::json({{"error", "not found"}}));
  // A trailing slash or an empty {id} is another path.
  EXPECT_EQ(call("GET", "/ping/")->status, 404);
  EXPECT_EQ(call("GET", "/v1/approvals/")->status, 404);
  EXPECT_EQ(call("GET", "/v1/approvals//approve")->status, 404);
  expect_still_serving();
}

TEST_F(HttpServerUnix, KnownPathWrongMethodIs405WithAllow) {
  std::string response = raw("PUT /v1/approvals/7/approve HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(response), 405) << response;
  EXPECT_EQ(header_of(response, "Allow"), "DELETE, POST");
  EXPECT_EQ(nlohmann::json::parse(body_of(response))["error"], "method PUT not allowed; allowed: DELETE, POST");
  response = raw("POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_of(response), 405) << response;
  EXPECT_EQ(header_of(response, "Allow"), "GET");
  expect_still_serving();
}

TEST_F(HttpServerUnix, DeclaredBodyOverTheLimitIs413BeforeTheBodyIsSent) {
  // Only the headers go out: the answer must come without waiting for the
  // megabyte they announce.
  auto c = RawConnection::unix_socket(path_);
  ASSERT_TRUE(c);
  c->send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n");
  std::string response = c->read_until_close(std::chrono::seconds(3));
  EXPECT_EQ(status_of(response), 413) << response;
  EXPECT_EQ(nlohmann::json::parse(body_of(response))["error"], "request body larger than 1024 bytes");
  EXPECT_TRUE(c->closed) << "the unread body must not be taken for a next request";

  auto r = call("POST", "/echo", std::string(1025, 'x'));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 413);
  r = call("POST", "/echo", std::string(1024, 'x'));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
  expect_still_serving();
}

TEST_F(HttpServerUnix, ChunkedBodyOverTheLimitIs413) {
  std::string chunk(600, 'y');
  std::string request = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
  for (int i = 0; i < 3; ++i) request += "258\r\n" + chunk + "\r\n";  // 0x258 = 600
  request += "0\r\n\r\n";
  std::string response = raw(request);
  EXPECT_EQ(status_of(response), 413) << response;

  // Under the limit, chunked is fine.
  response = raw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 "5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(status_of(response), 200) << response;
  EXPECT_EQ(nlohmann::json::parse(body_of(response))["body"], "hello");
  expect_still_serving();
}

TEST_F(HttpServerUnix, MalformedRequestsAre400AndTheServerGoesOn) {
  for (std::string_view bad : {
           std::string_view("GET /ping\r\n\r\n"),                                  // no HTTP version
           std::string_view("GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n"),      // HTTP/1.1 without Host
           std::string_view("GET /ping HTTP/1.1\r\nHost : x\r\n\r\n"),                // space before the colon
           std::string_view("GET /ping HTTP/1.1\r\nHost: x\r\nthis line has no colon\r\n\r\n"),
           std::string_view("GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n"),
           std::string_view("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
       }) {
    std::string response = raw(bad);
    EXPECT_EQ(status_of(response), 400) << "request: " << bad << "\nresponse: " << response;
    expect_still_serving();
  }
  // A request line that is not one at all: libmicrohttpd closes without an
  // answer (0.9.75), which is fine too.
  auto c = RawConnection::unix_socket(path_);
  ASSERT_TRUE(c);
  c->send("GARBAGE\r\n\r\n");
  EXPECT_EQ(c->read_until_close(), "");
  EXPECT_TRUE(c->closed);
  expect_still_serving();
}

TEST_F(HttpServerUnix, AThrowingHandlerIs500AndTheServerGoesOn) {
  auto r = call("GET", "/throw");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(nlohmann::json::parse(r->body), nlohmann::json({{"error", "internal error: boom"}}));
  expect_still_serving();
  r = call("GET", "/throw-other");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(nlohmann::json::parse(r->body), nlohmann::json({{"error", "internal error"}}));
  expect_still_serving();
}

TEST_F(HttpServerUnix, EveryResponseCarriesTheSafetyAndDefaultHeaders) {
  for (std::string_view request : {
           std::string_view("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
           std::string_view("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
           std::string_view("PUT /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
           std::string_view("GET /throw HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
           std::string_view("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"),
       }) {
    std::string response = raw(request);
    ASSERT_NE(status_of(response), 0) << request;
    EXPECT_EQ(header_of(response, "Cache-Control"), "no-store") << response;
    EXPECT_EQ(header_of(response, "X-Content-Type-Options"), "nosniff") << response;
    EXPECT_EQ(header_of(response, "Content-Security-Policy"), "default-src 'none'") << response;
  }
  // A handler's own header wins over the default of the same name.
  std::string response = raw("GET /own-cache-control HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(header_of(response, "Cache-Control"), "max-age=5") << response;
}

TEST_F(HttpServerUnix, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto c = RawConnection::unix_socket(path_);
  ASSERT_TRUE(c);
  c->send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\nGET /v1/approvals/9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string response = c->read_until_close();
  EXPECT_NE(response.find("pong"), std::string::npos) << response;
  EXPECT_NE(response.find("{\"id\":\"9\"}"), std::string::npos) << response;
}

class HttpServerUnixLimits : public HttpServerUnix {
 protected:
  HttpServerOptions options() override {
    HttpServerOptions o;
    o.connection_timeout = std::chrono::seconds(1);
    o.max_connections = 2;
    return o;
  }
};

TEST_F(HttpServerUnixLimits, AStuckPeerIsCutOffAfterTheTimeout) {
  auto c = RawConnection::unix_socket(path_);
  ASSERT_TRUE(c);
  c->send("GET /ping HTTP/1.1\r\nHost: x\r\n");  // and never the end of the headers
  auto before = std::chrono::steady_clock::now();
  std::string response = c->read_until_close(std::chrono::seconds(10));
  EXPECT_TRUE(c->closed);
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  EXPECT_EQ(status_of(response), 0) << response;  // nothing to answer
  expect_still_serving();
}

TEST_F(HttpServerUnixLimits, HeldConnectionsBeyondTheLimitWaitTheirTurn) {
  {
    auto a = RawConnection::unix_socket(path_);
    auto b = RawConnection::unix_socket(path_);
    ASSERT_TRUE(a && b);
    a->send("GET /ping HTTP/1.1\r\nHost: x\r\n");
    b->send("GET /ping HTTP/1.1\r\nHost: x\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // Both slots held: a third request gets no answer while they are...
    auto r = http_request(HttpTarget::unix_path(path_), "GET", "/ping", {}, {}, std::chrono::milliseconds(300));
    EXPECT_FALSE(r) << "status " << r->status;
  }
  // ...and is served once they are gone.
  expect_still_serving();
}

TEST(HttpServer, ReplacesAStaleSocketButNeverAnotherFile) {
  TempDir dir;
  std::string path = dir / "stale.sock";
  {
    // A socket file nobody listens on: what a killed daemon leaves.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
  }
  HttpServer server(HttpListen::unix_socket(path));
  server.add("GET", "/ping", [](const HttpRequest&) { return HttpResponse::text(200, "pong"); });
  auto started = server.start();
  ASSERT_TRUE(started) << started.error();
  auto r = http_request(HttpTarget::unix_path(path), "GET", "/ping");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->body, "pong");
  server.stop();

  std::string file = dir / "not-a-socket";
  std::ofstream(file) << "keep me";
  HttpServer other(HttpListen::unix_socket(file));
  auto refused = other.start();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), file + " exists and is not a socket");
  EXPECT_TRUE(std::filesystem::exists(file));
}

TEST(HttpServer, RefusesAnOverlongSocketPath) {
  HttpServer server(HttpListen::unix_socket("/tmp/" + std::string(200, 'a')));
  auto started = server.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().find("unix socket path is too long"), std::string::npos) << started.error();
}

TEST(HttpServer, RoutePatternsMustBeAbsolute) {
  HttpServer server(HttpListen::unix_socket("/tmp/unused.sock"));
  EXPECT_THROW(server.add("GET", "metrics", [](const HttpRequest&) { return HttpResponse::text(200, ""); }),
               std::invalid_argument);
}

TEST(HttpServer, ServesTcpOnIpv4LoopbackWithThePeerAddress) {
  auto address = policy::NetAddress::parse_ip("127.0.0.1", 0);
  ASSERT_TRUE(address);
  HttpServer server(HttpListen::tcp_address(*address));
  add_routes(server);
  auto started = server.start();
  ASSERT_TRUE(started) << started.error();
  ASSERT_TRUE(server.bound_address());
  ASSERT_NE(server.bound_address()->port, 0);
  const std::string base = "http://" + server.bound_address()->to_string();

  auto r = http_request(HttpTarget::url(base), "GET", "/whoami");
  ASSERT_TRUE(r) << r.error();
  auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["address"], "127.0.0.1");
  EXPECT_FALSE(j.contains("uid"));

  auto c = RawConnection::tcp(*server.bound_address());
  ASSERT_TRUE(c);
  c->send("GET /ping HTTP/1.1\r\n\r\n");  // no Host
  EXPECT_EQ(status_of(c->read_until_close()), 400);

  r = http_request(HttpTarget::url(base), "GET", "/nope");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 404);
  r = http_request(HttpTarget::url(base), "GET", "/ping");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, ServesTcpOnIpv6Loopback) {
  auto address = policy::NetAddress::parse_ip("::1", 0);
  ASSERT_TRUE(address);
  HttpServer server(HttpListen::tcp_address(*address));
  add_routes(server);
  auto started = server.start();
  if (!started && started.error().find("Cannot assign requested address") != std::string::npos) {
    GTEST_SKIP() << "no IPv6 loopback here: " << started.error();
  }
  ASSERT_TRUE(started) << started.error();
  auto r = http_request(HttpTarget::url("http://" + server.bound_address()->to_string()), "GET", "/whoami");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(nlohmann::json::parse(r->body)["address"], "::1");
}

TEST(HttpServer, ATcpPortInUseIsAClearError) {
  HttpServer first(HttpListen::tcp_address(*policy::NetAddress::parse_ip("127.0.0.1", 0)));
  ASSERT_TRUE(first.start());
  HttpServer second(HttpListen::tcp_address(*first.bound_address()));
  auto started = second.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), "cannot listen on " + first.bound_address()->to_string() + ": Address already in use");
}

size_t open_fds() {
  return static_cast<size_t>(std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                           std::filesystem::directory_iterator()));
}

TEST(HttpServer, StopClosesTheListeningSocket) {
  TempDir dir;
  size_t before = open_fds();
  for (int i = 0; i < 3; ++i) {
    HttpServer server(HttpListen::unix_socket(dir / "s.sock"));
    ASSERT_TRUE(server.start());
    auto r = http_request(HttpTarget::unix_path(dir / "s.sock"), "GET", "/");
    ASSERT_TRUE(r) << r.error();
    server.stop();
  }
  EXPECT_EQ(open_fds(), before);
}

TEST(HttpServer, JsonAnswersSurviveInvalidUtf8) {
  auto r = HttpResponse::json(200, {{"sql", std::string("select '\xff'")}});
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"sql\":\"select '\xEF\xBF\xBD'\"}\n");
}

TEST(HttpServer, StartTwiceIsRefusedAndStopBeforeStartIsHarmless) {
  HttpServer server(HttpListen::tcp_address(*policy::NetAddress::parse_ip("127.0.0.1", 0)));
  server.stop();
  ASSERT_TRUE(server.start());
  EXPECT_FALSE(server.start());
  server.stop();
  server.stop();
}

}  // namespace
}  // namespace pgw::admin
