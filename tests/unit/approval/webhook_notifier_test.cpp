// WebhookNotifier against a real HTTP receiver on 127.0.0.1 (an HttpServer
// that records what it is sent and answers what the test says).
#include "approval/webhook_notifier.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "admin/http_server.h"

namespace pgw::approval {
namespace {

using namespace std::chrono_literals;
using admin::HttpRequest;
using admin::HttpResponse;

// Records every POST it gets; `answer` picks the status (200 by default).
class Receiver {
 public:
  explicit Receiver(uint16_t port = 0) {
    auto address = policy::NetAddress::parse_ip("127.0.0.1", port);
    server_ = std::make_unique<admin::HttpServer>(admin::HttpListen::tcp_address(*address));
    server_->add("POST", "/hook/secret-token", [this](const HttpRequest& r) {
      std::lock_guard lock(mu_);
      const std::string* type = r.header("Content-Type");
      content_types_.push_back(type ? *type : "");
      auto payload = nlohmann::json::parse(r.body);
      received_.push_back(payload);
      int status = answer_ ? answer_(payload, received_.size()) : 200;
      return HttpResponse::json(status, {{"ok", status < 300}});
    });
    auto started = server_->start();
    EXPECT_TRUE(started) << started.error();
  }

  std::string url() const { return "http://" + server_->bound_address()->to_string() + "/hook/secret-token"; }
  void answer(std::function<int(const nlohmann::json&, size_t)> f) {
    std::lock_guard lock(mu_);
    answer_ = std::move(f);
  }
  std::vector<nlohmann::json> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::vector<std::string> content_types() const {
    std::lock_guard lock(mu_);
    return content_types_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<nlohmann::json> received_;
  std::vector<std::string> content_types_;
  std::function<int(const nlohmann::json&, size_t)> answer_;
  std::unique_ptr<admin::HttpServer> server_;  // last: stops before the rest goes
};

// A loopback port that refuses connections: bound, not listening. Held until
// released, so nothing else takes it meanwhile.
class ClosedPort {
 public:
  ClosedPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~ClosedPort() { release(); }
  void release() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook/secret-token"; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

WebhookOptions fast(std::string url) {
  WebhookOptions o;
  o.url = std::move(url);
  o.initial_backoff = 10ms;
  o.max_backoff = 80ms;
  o.request_timeout = 2s;
  o.stop_grace = 2s;
  return o;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

nlohmann::json payload(int n) { return {{"n", n}, {"text", "SELECT " + std::to_string(n)}}; }

std::vector<int> numbers(const std::vector<nlohmann::json>& received) {
  std::vector<int> out;
  for (const auto& j : received) out.push_back(j["n"].get<int>());
  return out;
}

std::vector<int> range(int from, int to) {
  std::vector<int> out;
  for (int i = from; i < to; ++i) out.push_back(i);
  return out;
}

TEST(WebhookNotifier, DeliversInOrderAsJson) {
  Receiver receiver;
  WebhookNotifier notifier(fast(receiver.url()));
  for (int i = 0; i < 50; ++i) notifier.enqueue(payload(i));
  ASSERT_TRUE(eventually([&] { return notifier.health().delivered == 50; }));
  EXPECT_EQ(numbers(receiver.received()), range(0, 50));
  for (const auto& type : receiver.content_types()) EXPECT_EQ(type, "application/json");
  auto h = notifier.health();
  EXPECT_EQ(h.url, "http://" + receiver.url().substr(7, receiver.url().find('/', 7) - 7) + "/…");
  EXPECT_EQ(h.queued, 0u);
  EXPECT_EQ(h.failed_attempts, 0u);
  EXPECT_EQ(h.dropped(), 0u);
  EXPECT_TRUE(h.last_success.has_value());
  EXPECT_EQ(h.last_error, "");
}

// The receiver's port refuses connections at first, so no attempt can have
// reached it: once it is up, each payload arrives exactly once, in order.
// (Delivery is at least once in general: an answer lost after the receiver
// took the request means that payload is sent again.)
TEST(WebhookNotifier, AReceiverThatComesUpLaterGetsEverythingOnceInOrder) {
  ClosedPort port;
  WebhookNotifier notifier(fast(port.url()));
  for (int i = 0; i < 20; ++i) notifier.enqueue(payload(i));
  ASSERT_TRUE(eventually([&] { return notifier.health().failed_attempts >= 3; }));
  auto h = notifier.health();
  EXPECT_EQ(h.delivered, 0u);
  EXPECT_EQ(h.queued, 20u);
  EXPECT_EQ(h.last_error.rfind("cannot reach http://127.0.0.1:" + std::to_string(port.port()) + "/…: ", 0), 0u)
      << h.last_error;
  EXPECT_EQ(h.last_error.find("secret-token"), std::string::npos);
  EXPECT_FALSE(h.last_success.has_value());

  for (int i = 20; i < 30; ++i) notifier.enqueue(payload(i));  // more while it is down
  port.release();
  Receiver receiver(port.port());
  ASSERT_TRUE(eventually([&] { return notifier.health().delivered == 30; }));
  EXPECT_EQ(numbers(receiver.received()), range(0, 30));
  EXPECT_EQ(notifier.health().queued, 0u);
  EXPECT_EQ(notifier.health().dropped(), 0u);
}

TEST(WebhookNotifier, ServerErrorsAreRetriedUntilAccepted) {
  Receiver receiver;
  receiver.answer([](const nlohmann::json&, size_t count) { return count <= 3 ? 500 : 200; });
  WebhookNotifier notifier(fast(receiver.url()));
  notifier.enqueue(payload(1));
  notifier.enqueue(payload(2));
  ASSERT_TRUE(eventually([&] { return notifier.health().delivered == 2; }));
  EXPECT_EQ(numbers(receiver.received()), (std::vector<int>{1, 1, 1, 1, 2}));
  auto h = notifier.health();
  EXPECT_EQ(h.failed_attempts, 3u);
  EXPECT_EQ(h.last_error, "answered HTTP 500");
  EXPECT_EQ(h.dropped(), 0u);
}

TEST(WebhookNotifier, TooManyRequestsAndTimeoutAreRetriedPastTheClientErrorLimit) {
  Receiver receiver;
  receiver.answer([](const nlohmann::json&, size_t count) { return count <= 2 ? 429 : count <= 5 ? 408 : 200; });
  WebhookNotifier notifier(fast(receiver.url()));
  notifier.enqueue(payload(1));
  ASSERT_TRUE(eventually([&] { return notifier.health().delivered == 1; }));
  EXPECT_EQ(receiver.received().size(), 6u);
  EXPECT_EQ(notifier.health().dropped_rejected, 0u);
}

TEST(WebhookNotifier, AClientErrorDropsThePayloadAfterThreeAttempts) {
  Receiver receiver;
  receiver.answer([](const nlohmann::json& p, size_t) { return p["n"] == 2 ? 400 : 200; });
  WebhookNotifier notifier(fast(receiver.url()));
  for (int i = 1; i <= 3; ++i) notifier.enqueue(payload(i));
  ASSERT_TRUE(eventually([&] { return notifier.health().delivered == 2 && notifier.health().queued == 0; }));
  EXPECT_EQ(numbers(receiver.received()), (std::vector<int>{1, 2, 2, 2, 3}));
  auto h = notifier.health();
  EXPECT_EQ(h.dropped_rejected, 1u);
  EXPECT_EQ(h.dropped_overflow, 0u);
  EXPECT_EQ(h.failed_attempts, 3u);
  EXPECT_EQ(h.last_error, "answered HTTP 400");
}

TEST(WebhookNotifier, AFullQueueDropsTheOldest) {
  ClosedPort port;
  auto options = fast(port.url());
  options.max_queue = 5;
  WebhookNotifier notifier(options);
  for (int i = 0; i < 12; ++i) notifier.enqueue(payload(i));
  // One payload may already be in flight (outside the queue's bound).
  auto h = notifier.health();
  EXPECT_GE(h.dropped_overflow, 6u);
  EXPECT_EQ(h.queued + h.dropped_overflow, 12u);

  port.release();
  Receiver receiver(port.port());
  ASSERT_TRUE(eventually([&] { return notifier.health().queued == 0; }));
  auto got = numbers(receiver.received());
  ASSERT_GE(got.size(), 5u);
  // The newest five always survive, in order; only the one in flight, if
  // any, may precede them.
  EXPECT_EQ(std::vector<int>(got.end() - 5, got.end()), range(7, 12));
  EXPECT_EQ(got.size() + notifier.health().dropped_overflow, 12u);
}

TEST(WebhookNotifier, StopRetriesAtOnceAndDeliversWhatIsQueued) {
  Receiver receiver;
  receiver.answer([](const nlohmann::json&, size_t count) { return count == 1 ? 503 : 200; });
  auto options = fast(receiver.url());
  options.initial_backoff = 5s;  // stop() must not wait out a backoff to try again
  options.max_backoff = 5s;
  WebhookNotifier notifier(options);
  for (int i = 0; i < 10; ++i) notifier.enqueue(payload(i));
  ASSERT_TRUE(eventually([&] { return notifier.health().failed_attempts == 1; }));
  auto before = std::chrono::steady_clock::now();
  notifier.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 1500ms);
  auto expected = range(0, 10);
  expected.insert(expected.begin(), 0);  // the 503, then everything
  EXPECT_EQ(numbers(receiver.received()), expected);
  EXPECT_EQ(notifier.health().delivered, 10u);
  notifier.stop();                // idempotent
  notifier.enqueue(payload(99));  // after stop: not sent, nothing to wake
  EXPECT_EQ(notifier.health().queued, 0u);
}

TEST(WebhookNotifier, StopFlushesAHealthyQueue) {
  Receiver receiver;
  WebhookNotifier notifier(fast(receiver.url()));
  for (int i = 0; i < 30; ++i) notifier.enqueue(payload(i));
  notifier.stop();
  EXPECT_EQ(numbers(receiver.received()), range(0, 30));
  EXPECT_EQ(notifier.health().delivered, 30u);
}

TEST(WebhookNotifier, StopGivesUpOnADownReceiverAfterTheGrace) {
  ClosedPort port;
  auto options = fast(port.url());
  options.stop_grace = 300ms;
  WebhookNotifier notifier(options);
  notifier.enqueue(payload(1));
  notifier.enqueue(payload(2));
  auto before = std::chrono::steady_clock::now();
  notifier.stop();
  auto took = std::chrono::steady_clock::now() - before;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 2s);
  auto h = notifier.health();
  EXPECT_EQ(h.delivered, 0u);
  EXPECT_EQ(h.queued, 2u);  // not delivered, and health says so
}

// The log shows sizes and statuses, never the payload (it holds SQL) nor the
// URL's path (often a token).
TEST(WebhookNotifier, TheLogNeverShowsPayloadsOrTheUrlPath) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  auto logger = std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log));
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);

  {
    ClosedPort port;
    auto options = fast(port.url());
    options.max_queue = 2;
    WebhookNotifier notifier(options);
    for (int i = 0; i < 4; ++i) notifier.enqueue({{"text", "SELECT ssn FROM customers -- " + std::to_string(i)}});
    ASSERT_TRUE(eventually([&] { return notifier.health().failed_attempts >= 2; }));
    port.release();
    Receiver receiver(port.port());
    receiver.answer([](const nlohmann::json&, size_t count) { return count <= 3 ? 400 : 200; });
    ASSERT_TRUE(eventually([&] { return notifier.health().queued == 0; }));
    receiver.answer([](const nlohmann::json&, size_t) { return 500; });
    uint64_t failed = notifier.health().failed_attempts;
    notifier.enqueue({{"text", "SELECT ssn FROM customers -- last"}});
    ASSERT_TRUE(eventually([&] { return notifier.health().failed_attempts > failed; }));
    notifier.stop();
  }
  spdlog::set_default_logger(previous);

  std::string text = log.str();
  EXPECT_EQ(text.find("SELECT"), std::string::npos) << text;
  EXPECT_EQ(text.find("ssn"), std::string::npos) << text;
  EXPECT_EQ(text.find("secret-token"), std::string::npos) << text;
  EXPECT_NE(text.find("answered HTTP 400 3 times"), std::string::npos) << text;
  EXPECT_NE(text.find("dropped the oldest"), std::string::npos) << text;
  EXPECT_NE(text.find("answered HTTP 500"), std::string::npos) << text;
  EXPECT_NE(text.find("not delivered"), std::string::npos) << text;
}

}  // namespace
}  // namespace pgw::approval
