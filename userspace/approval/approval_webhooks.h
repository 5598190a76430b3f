// approval.notify (and policies[].approval.notify): every new request and
// every outcome is POSTed as JSON to the request's webhook, with a `text`
// field a Slack-style incoming webhook shows as is:
//
//   {"event": "requested" | "approval_added" | "decided",
//    "text": "pgwarden host-7: coding-agent (psql) wants to run ... ",
//    "approval": { ...the request as GET /v1/approvals/{id} shows it... }}
//
// One WebhookNotifier (its own thread, retries with backoff, nothing lost
// while the receiver is down) per URL, made when a request first names it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "approval/approval_queue.h"
#include "approval/webhook_notifier.h"

namespace pgw::approval {

class ApprovalWebhooks {
 public:
  // Observes `queue` from now on.
  explicit ApprovalWebhooks(ApprovalQueue& queue);
  ~ApprovalWebhooks();

  std::vector<WebhookHealth> health() const;
  // Delivers what is queued, for a short grace, and stops.
  void stop();

 private:
  void on_event(ApprovalQueue::Event event, const Request& request);

  ApprovalQueue& queue_;
  int observer_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<WebhookNotifier>> by_url_;
  bool stopped_ = false;
};

}  // namespace pgw::approval
