// Posts approval notifications (JSON) to a webhook URL — a chat channel's
// incoming webhook, say — from a thread of its own, in order.
//
// enqueue() is called from the engine's threads and only ever takes a short
// lock: no I/O, no waiting on the network. Each payload is retried until the
// receiver answers 2xx, with exponential backoff, so a webhook that is down
// for a while loses nothing: the queue waits in memory, in order. Bounds: past
// `max_queue` payloads the oldest are dropped (and counted); a payload the
// receiver rejects with 4xx (except 408 and 429, which mean "later") is
// dropped after `client_error_attempts` tries, since sending it again will not
// change the answer.
//
// Delivery is at least once: when an answer is lost (a timeout after the
// receiver took the request), the payload is sent again, so a receiver may
// see a payload twice; never out of order, and never one that was accepted.
//
// Payloads carry SQL text: the log only ever shows their sizes, the status
// codes and the URL with its path (often a secret token) redacted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

namespace pgw::approval {

struct WebhookOptions {
  std::string url;
  std::chrono::milliseconds initial_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
  // Per attempt. stop() waits for an attempt under way, so this also bounds
  // how far stop() may overrun its grace.
  std::chrono::milliseconds request_timeout{5000};
  std::chrono::milliseconds stop_grace{2000};
  size_t max_queue = 10000;
  int client_error_attempts = 3;
};

// For `pgwarden status` and the metrics.
struct WebhookHealth {
  std::string url;              // redacted: scheme, host and port only
  size_t queued = 0;            // waiting, including the one being delivered
  uint64_t delivered = 0;
  uint64_t failed_attempts = 0;  // every attempt that got no 2xx
  uint64_t dropped_overflow = 0;  // oldest dropped because the queue was full
  uint64_t dropped_rejected = 0;  // dropped after repeated 4xx answers
  std::string last_error;       // of the latest failed attempt
  std::optional<std::chrono::system_clock::time_point> last_success;

  uint64_t dropped() const { return dropped_overflow + dropped_rejected; }
};

class WebhookNotifier {
 public:
  // Starts the delivery thread.
  explicit WebhookNotifier(WebhookOptions options);
  ~WebhookNotifier();
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  // Queues one payload (the caller has put its `text` in). Never waits on the
  // network. After stop() the payload is dropped.
  void enqueue(nlohmann::json payload);

  WebhookHealth health() const;

  // Keeps delivering what is queued for up to `stop_grace`, then ends the
  // thread; whatever is still queued is lost, and the log says how much.
  // Idempotent.
  void stop();

 private:
  void run();
  // Waits out a backoff; returns early when stop() is called meanwhile.
  void wait_backoff(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds backoff);

  const WebhookOptions options_;
  const std::string redacted_url_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<nlohmann::json> queue_;
  bool in_flight_ = false;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_;  // set by stop()
  WebhookHealth stats_;

  std::mutex stop_mu_;  // one stop() joins the thread
  std::thread thread_;
};

}  // namespace pgw::approval
