// Statements held for approval. The relay keeps the held message (and the
// session keeps what the client sent after it); the approval queue keeps
// the request. The outcome comes back on this loop thread through
// Worker::post, wherever it was decided.
//
// While a statement waits, the client stays readable (up to a bound) so
// that a client that gives up and closes its connection withdraws the
// request; a CancelRequest withdraws it too (engine/session_startup.cpp).
#include <spdlog/spdlog.h>

#include "engine/recording_service.h"
#include "engine/session.h"
#include "engine/worker.h"
#include "policy/kubernetes_cgroup.h"

namespace pgw::engine {

namespace {

std::string describe_duration(std::chrono::milliseconds d) {
  const auto s = d.count() / 1000;
  if (s % 3600 == 0 && s >= 3600) return std::to_string(s / 3600) + "h";
  if (s % 60 == 0 && s >= 60) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace

void Session::hold_for_approval() {
  const approval::Ask* ask = relay_->relay.held_ask();
  if (ask == nullptr || !approval_id_.empty()) return;
  approval::ApprovalQueue* queue = worker_.state().approvals();
  // The approval settings in force now (a reload applies to the next
  // request), with this identity's policy on its upstream.
  const auto current = worker_.state().config();
  const policy::Config& config = *current;
  const policy::Policy* policy = config.policy_for(identity_name_, upstream_name_);
  approval::Request request;
  request.session = id_;
  request.session_id = session_name(id_);
  request.upstream = upstream_name_;
  request.database = startup_ ? startup_->database : std::string();
  request.requester.identity = identity_name_;
  request.requester.cgroup = identity_.cgroup_path.value_or("");
  request.requester.uid = identity_.uid;
  request.requester.gid = identity_.gid;
  if (identity_.pid) request.requester.pid = static_cast<int32_t>(*identity_.pid);
  request.requester.comm = identity_.comm.value_or("");
  if (identity_.source) request.requester.source = identity_.source->to_string();
  if (identity_.cgroup_path) {
    request.requester.pod = policy::parse_kubernetes_cgroup(*identity_.cgroup_path).pod_uid.value_or("");
  }
  request.ask = *ask;
  std::chrono::milliseconds timeout = config.approval.timeout;
  if (policy != nullptr && policy->approval.timeout) timeout = *policy->approval.timeout;
  approval_timeout_ = timeout;
  request.created = std::chrono::system_clock::now();
  request.deadline = request.created + timeout;
  request.min_approvals = config.approval.approvers.min_approvals;
  request.notify = policy != nullptr && policy->approval.notify ? *policy->approval.notify
                                                                 : config.approval.notify.value_or("");
  Worker* worker = &worker_;
  const uint64_t session = id_;
  // Set before submit: a queue that is shutting down answers at once.
  approval_id_ = "(submitting)";
  const approval::Request queued = queue->submit(std::move(request), [worker, session](const approval::Outcome& o) {
    worker->post([worker, session, o] {
      if (Session* s = worker->find_session(session)) s->approval_decided(o);
    });
  });
  if (approval_id_ == "(submitting)") approval_id_ = queued.id;
  if (capture_) {
    capture_->event({{"event", "approval_requested"}, {"id", queued.id}, {"rule", queued.ask.rule},
                     {"statement_hash", queued.ask.statement_hash}});
  }
}

void Session::approval_decided(const approval::Outcome& outcome) {
  if (phase_ != Phase::kRelay || !relay_ || approval_id_.empty()) return;
  if (approval_id_ != outcome.id && approval_id_ != "(submitting)") return;
  approval_id_.clear();
  if (capture_) {
    capture_->event({{"event", "approval_" + std::string(approval::to_string(outcome.state))},
                     {"id", outcome.id},
                     {"by", outcome.decided_by},
                     {"reason", outcome.reason}});
  }
  const approval::Ask* ask = relay_->relay.held_ask();
  const std::string held_message = ask ? ask->message : std::string();
  std::optional<relay::Verdict> refusal;
  switch (outcome.state) {
    case approval::State::approved:
      break;
    case approval::State::denied:
      refusal = relay::Verdict::deny("pgwarden: approval " + outcome.id + " denied by " + outcome.decided_by + ": " +
                                         outcome.reason,
                                     "42501", held_message + " (the statement did not run)");
      break;
    case approval::State::timed_out:
      refusal = relay::Verdict::deny("pgwarden: approval " + outcome.id + " timed out after " +
                                         describe_duration(approval_timeout_) + " without a decision",
                                     "42501", held_message + " (the statement did not run)");
      break;
    case approval::State::withdrawn:
      // As PostgreSQL words a canceled statement.
      refusal = relay::Verdict::deny("canceling statement due to user request", "57014",
                                     "pgwarden: approval " + outcome.id + " was withdrawn (" + outcome.reason +
                                         "); the statement did not run");
      break;
    case approval::State::aborted:
    case approval::State::pending:
      fail("57P01", "pgwarden: terminating connection: approval " + outcome.id + " was not decided (" +
                        outcome.reason + "); the statement did not run");
      return;
  }
  std::string out;
  const relay::Relay::Outcome o = relay_->relay.release_held(std::move(refusal), out);
  if (o == relay::Relay::Outcome::fail) {
    fail("XX000", "pgwarden: the session was ended: " + relay_->relay.failure());
    return;
  }
  if (!out.empty()) queue_owned(upstream_, std::move(out));
  if (o == relay::Relay::Outcome::hold) {
    hold_for_approval();  // the policy changed meanwhile and asks again
    send_next(upstream_, OpKind::kUpstreamSend);
    return;
  }
  resume_client();
}

void Session::withdraw_approval(std::string why) {
  if (approval_id_.empty() || approval_id_ == "(submitting)") return;
  const std::string id = std::move(approval_id_);
  approval_id_.clear();
  worker_.state().approvals()->withdraw(id, std::move(why));
}

}  // namespace pgw::engine
