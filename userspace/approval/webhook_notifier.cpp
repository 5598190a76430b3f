#include "approval/webhook_notifier.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "admin/http_client.h"

namespace pgw::approval {

namespace {

// A run of failures is logged at warn level when it starts and every this
// many attempts after, not at every retry.
constexpr uint64_t kWarnEvery = 10;

bool retry_forever(int status) {
  // 408 (request timeout) and 429 (too many requests) ask us to come back
  // later; other 4xx say this payload will never be accepted.
  return status < 400 || status >= 500 || status == 408 || status == 429;
}

}  // namespace

WebhookNotifier::WebhookNotifier(WebhookOptions options)
    : options_(std::move(options)), redacted_url_(admin::redact_url(options_.url)) {
  stats_.url = redacted_url_;
  thread_ = std::thread([this] { run(); });
}

WebhookNotifier::~WebhookNotifier() { stop(); }

void WebhookNotifier::enqueue(nlohmann::json payload) {
  uint64_t dropped = 0;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      spdlog::debug("webhook {}: stopped; a payload enqueued after stop() is not sent", redacted_url_);
      return;
    }
    queue_.push_back(std::move(payload));
    if (queue_.size() > options_.max_queue) {
      queue_.pop_front();
      dropped = ++stats_.dropped_overflow;
    }
  }
  cv_.notify_one();
  // Once at the start of an overflow and then now and then, not per payload.
  if (dropped == 1 || (dropped != 0 && dropped % 1000 == 0)) {
    spdlog::warn("webhook {}: more than {} notifications waiting; dropped the oldest ({} dropped so far)",
                 redacted_url_, options_.max_queue, dropped);
  }
}

WebhookHealth WebhookNotifier::health() const {
  std::lock_guard lock(mu_);
  WebhookHealth h = stats_;
  h.queued = queue_.size() + (in_flight_ ? 1 : 0);
  return h;
}

void WebhookNotifier::stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    deadline_ = std::chrono::steady_clock::now() + options_.stop_grace;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard lock(mu_);
  size_t left = queue_.size() + (in_flight_ ? 1 : 0);
  if (left != 0) {
    spdlog::warn("webhook {}: stopped with {} notification(s) not delivered ({})", redacted_url_, left,
                 stats_.last_error.empty() ? "no time left" : stats_.last_error);
  }
}

void WebhookNotifier::wait_backoff(std::unique_lock<std::mutex>& lock, std::chrono::milliseconds backoff) {
  auto wake = std::chrono::steady_clock::now() + backoff;
  if (stopping_) {
    wake = std::min(wake, deadline_);
    cv_.wait_until(lock, wake);  // nothing left to wake us early for
    return;
  }
  // A stop() meanwhile ends the wait: the grace is for trying again, now.
  cv_.wait_until(lock, wake, [this] { return stopping_; });
}

void WebhookNotifier::run() {
  const auto target = admin::HttpTarget::url(options_.url);
  const admin::HttpHeaders headers = {{"Content-Type", "application/json"}};
  std::unique_lock lock(mu_);
  std::string body;          // the payload in flight, serialised once
  int client_errors = 0;     // 4xx answers to it
  uint64_t failures_in_run = 0;
  auto backoff = options_.initial_backoff;

  for (;;) {
    if (!in_flight_) {
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and all delivered
      // Serialised here, off the caller's thread. `replace`: SQL from a
      // SQL_ASCII database may not be valid UTF-8, and must still go out.
      body = queue_.front().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      queue_.pop_front();
      in_flight_ = true;
      client_errors = 0;
    }
    auto now = std::chrono::steady_clock::now();
    if (stopping_ && now >= deadline_) return;
    auto timeout = options_.request_timeout;
    if (stopping_) {
      timeout = std::min(timeout, std::chrono::ceil<std::chrono::milliseconds>(deadline_ - now));
    }

    lock.unlock();
    auto reply = admin::http_request(target, "POST", "", body, headers, timeout);
    lock.lock();

    if (reply && reply->status >= 200 && reply->status < 300) {
      ++stats_.delivered;
      stats_.last_success = std::chrono::system_clock::now();
      in_flight_ = false;
      backoff = options_.initial_backoff;
      if (failures_in_run != 0) {
        spdlog::info("webhook {}: delivering again after {} failed attempt(s)", redacted_url_, failures_in_run);
      }
      failures_in_run = 0;
      continue;
    }

    ++stats_.failed_attempts;
    ++failures_in_run;
    stats_.last_error = reply ? "answered HTTP " + std::to_string(reply->status) : reply.error();
    if (reply && !retry_forever(reply->status) && ++client_errors >= options_.client_error_attempts) {
      ++stats_.dropped_rejected;
      in_flight_ = false;
      backoff = options_.initial_backoff;
      spdlog::warn("webhook {}: dropped a notification of {} bytes: answered HTTP {} {} times", redacted_url_,
                   body.size(), reply->status, client_errors);
      continue;
    }
    if (failures_in_run == 1 || failures_in_run % kWarnEvery == 0) {
      spdlog::warn("webhook {}: notification of {} bytes not delivered ({}); {} waiting; retrying in {} ms",
                   redacted_url_, body.size(), stats_.last_error, queue_.size() + 1, backoff.count());
    } else {
      spdlog::debug("webhook {}: attempt failed ({}); retrying in {} ms", redacted_url_, stats_.last_error,
                    backoff.count());
    }
    wait_backoff(lock, backoff);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace pgw::approval
