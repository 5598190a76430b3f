#include "approval/approval_webhooks.h"

namespace pgw::approval {

namespace {

std::string_view event_name(ApprovalQueue::Event e) {
  switch (e) {
    case ApprovalQueue::Event::requested: return "requested";
    case ApprovalQueue::Event::approval_added: return "approval_added";
    case ApprovalQueue::Event::decided: return "decided";
  }
  return "?";
}

}  // namespace

ApprovalWebhooks::ApprovalWebhooks(ApprovalQueue& queue) : queue_(queue) {
  observer_ = queue.add_observer([this](ApprovalQueue::Event e, const Request& r) { on_event(e, r); });
}

ApprovalWebhooks::~ApprovalWebhooks() {
  queue_.remove_observer(observer_);
  stop();
}

void ApprovalWebhooks::on_event(ApprovalQueue::Event event, const Request& request) {
  if (request.notify.empty()) return;
  nlohmann::json payload = {{"event", event_name(event)},
                            {"text", describe_for_chat(request)},
                            {"approval", to_json(request, std::chrono::system_clock::now())}};
  std::lock_guard lock(mu_);
  if (stopped_) return;
  auto& notifier = by_url_[request.notify];
  if (!notifier) {
    WebhookOptions options;
    options.url = request.notify;
    notifier = std::make_unique<WebhookNotifier>(options);
  }
  notifier->enqueue(std::move(payload));
}

std::vector<WebhookHealth> ApprovalWebhooks::health() const {
  std::lock_guard lock(mu_);
  std::vector<WebhookHealth> out;
  for (const auto& [url, n] : by_url_) out.push_back(n->health());
  return out;
}

void ApprovalWebhooks::stop() {
  std::map<std::string, std::unique_ptr<WebhookNotifier>> notifiers;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    notifiers.swap(by_url_);
  }
  for (auto& [url, n] : notifiers) n->stop();
}

}  // namespace pgw::approval
