#include "admin/metrics_page.h"

#include "engine/session_index.h"
#include "engine/catalog_store.h"
#include "engine/recording_service.h"
#include "engine/kubernetes_watch.h"
#include "policy/statement_class.h"

namespace pgw::admin {

namespace {

using engine::LoopMetrics;

constexpr const char* kActionNames[LoopMetrics::kActions] = {"allow", "approve", "deny"};

// Histograms of all loop threads, bucket by bucket (they share bounds).
HistogramSnapshot merged_latency(const engine::EngineState& state) {
  HistogramSnapshot total;
  state.for_each_loop_metrics([&](const LoopMetrics& m) {
    HistogramSnapshot s = m.decision_latency.snapshot();
    if (total.upper_bounds.empty()) {
      total = std::move(s);
      return;
    }
    for (size_t i = 0; i < total.cumulative_counts.size() && i < s.cumulative_counts.size(); ++i)
      total.cumulative_counts[i] += s.cumulative_counts[i];
    total.count += s.count;
    total.sum += s.sum;
  });
  if (total.upper_bounds.empty()) total = LatencyHistogram().snapshot();
  return total;
}

void sessions(PrometheusText& out, const engine::EngineState& state) {
  out.gauge("pgwarden_sessions_open", "Client sessions open now.", static_cast<double>(state.sessions_open.load()));
  out.counter("pgwarden_sessions_total", "Client sessions accepted since start.",
              static_cast<double>(state.sessions_total.load()));
  out.gauge("pgwarden_tls_sessions_open", "Client sessions open now over TLS (handshake done).",
            static_cast<double>(state.tls_sessions_open.load()));
  out.counter("pgwarden_tls_sessions_total", "Client sessions whose TLS handshake completed, since start.",
              static_cast<double>(state.tls_sessions_total.load()));
  uint64_t from_clients = 0, to_clients = 0;
  for (const auto& s : state.sessions().snapshot()) {
    from_clients += s->bytes_from_client.load(std::memory_order_relaxed);
    to_clients += s->bytes_to_client.load(std::memory_order_relaxed);
  }
  uint64_t accept_pauses = 0, buffers = 0, spares = 0;
  state.for_each_loop_metrics([&](const LoopMetrics& m) {
    accept_pauses += m.accept_pauses.load(std::memory_order_relaxed);
    buffers += m.buffers_in_use.load(std::memory_order_relaxed);
    spares += m.spare_buffers_in_use.load(std::memory_order_relaxed);
  });
  out.gauge("pgwarden_receive_buffers_in_use",
            "Provided receive buffers (32 KiB, 256 per loop thread) held by sessions, as of the last second.",
            static_cast<double>(buffers));
  out.gauge("pgwarden_receive_spare_buffers_in_use",
            "16 KiB receive buffers allocated because a loop thread's provided buffers were all held.",
            static_cast<double>(spares));
  out.counter("pgwarden_accept_pauses_total",
              "Accepts that failed for want of file descriptors or memory (EMFILE, ENFILE, ENOMEM); accepting "
              "paused until a session ended or for a second.",
              static_cast<double>(accept_pauses));
  const engine::ReloadOutcome reload = state.last_reload();
  out.counter("pgwarden_config_reload_failures_total", "SIGHUP reloads refused (the running config was kept).",
              static_cast<double>(reload.failures));
  out.family("pgwarden_session_bytes", MetricType::gauge,
             "Bytes moved by the sessions open now, by direction (client to upstream, upstream to client).");
  out.sample({{"direction", "from_client"}}, static_cast<double>(from_clients));
  out.sample({{"direction", "to_client"}}, static_cast<double>(to_clients));
}

void statements(PrometheusText& out, const engine::EngineState& state) {
  uint64_t by_class[LoopMetrics::kActions][LoopMetrics::kClasses + 1] = {};
  uint64_t by_decision[LoopMetrics::kActions] = {};
  uint64_t masked_rows = 0;
  state.for_each_loop_metrics([&](const LoopMetrics& m) {
    for (size_t a = 0; a < LoopMetrics::kActions; ++a) {
      by_decision[a] += m.decisions[a].load(std::memory_order_relaxed);
      for (size_t c = 0; c <= LoopMetrics::kClasses; ++c) by_class[a][c] += m.statements[a][c].load(std::memory_order_relaxed);
    }
    masked_rows += m.masked_rows.load(std::memory_order_relaxed);
  });
  out.family("pgwarden_decisions_total", MetricType::counter,
             "Client messages decided by the policy (Query, Parse, Bind, FunctionCall), by decision.");
  for (size_t a = 0; a < LoopMetrics::kActions; ++a) out.sample({{"decision", kActionNames[a]}}, static_cast<double>(by_decision[a]));
  out.family("pgwarden_statements_total", MetricType::counter,
             "Decisions by decision and statement class; a text of several classes counts in each.");
  for (size_t a = 0; a < LoopMetrics::kActions; ++a) {
    for (size_t c = 0; c <= LoopMetrics::kClasses; ++c) {
      if (by_class[a][c] == 0) continue;  // keep the page short: absent means zero
      const std::string cls =
          c == LoopMetrics::kClasses ? "none" : std::string(to_string(static_cast<sql::StatementClass>(c)));
      out.sample({{"decision", kActionNames[a]}, {"class", cls}}, static_cast<double>(by_class[a][c]));
    }
  }
  out.family("pgwarden_decision_duration_seconds", MetricType::histogram,
             "Time to decide a client message against the policy (cache hit or full analysis).");
  out.histogram({}, merged_latency(state));
  out.counter("pgwarden_masked_rows_total", "Result rows (DataRow or COPY rows) in which pgwarden masked a value.",
              static_cast<double>(masked_rows));
}

void approvals(PrometheusText& out, const engine::EngineState& state) {
  if (state.approvals() == nullptr) return;
  const approval::QueueCounters c = state.approvals()->counters();
  out.counter("pgwarden_approval_requests_total", "Statements held for approval.", static_cast<double>(c.requested));
  out.family("pgwarden_approvals_total", MetricType::counter, "Approval requests ended, by outcome.");
  const std::pair<const char*, uint64_t> outcomes[] = {{"approved", c.approved},   {"denied", c.denied},
                                                       {"timed_out", c.timed_out}, {"withdrawn", c.withdrawn},
                                                       {"aborted", c.aborted}};
  for (const auto& [name, n] : outcomes) out.sample({{"outcome", name}}, static_cast<double>(n));
  out.gauge("pgwarden_approvals_pending", "Statements waiting for a decision now.", static_cast<double>(c.pending));
  out.counter("pgwarden_approval_standing_grant_uses_total",
              "Statements run under a standing grant (approve --for) without a new request.",
              static_cast<double>(c.granted_standing));
}

// Session recording's health: a failure shows here as in `status` (with
// recording.required false, sessions go on unrecorded).
void recordings(PrometheusText& out, const engine::EngineState& state) {
  const engine::RecordingService* rec = state.recordings();
  if (rec == nullptr) return;
  const auto h = rec->health();
  out.counter("pgwarden_recording_sessions_total", "Session recordings started (files made).",
              static_cast<double>(h.sessions));
  out.gauge("pgwarden_recording_sessions_open", "Sessions being recorded now.", static_cast<double>(h.open));
  out.counter("pgwarden_recording_records_total", "Records written to session recordings.",
              static_cast<double>(h.records));
  out.counter("pgwarden_recording_failures_total",
              "Recording writes or file creations that failed (full or unwritable recording.dir).",
              static_cast<double>(h.failures));
  out.counter("pgwarden_recording_failed_sessions_total",
              "Sessions whose recording failed: missing or incomplete.", static_cast<double>(h.failed_sessions));
  out.counter("pgwarden_recording_backpressure_pauses_total",
              "Times a session was not read because its recording was more than 4 MiB behind (a large result).",
              static_cast<double>(h.backpressure_pauses));
  out.gauge("pgwarden_recording_refusing",
            "1 while recording.required refuses new sessions because recordings cannot be written.",
            rec->refusing().empty() ? 0.0 : 1.0);
  out.gauge("pgwarden_recording_dir_bytes", "Bytes the recordings took after the last retention pass.",
            static_cast<double>(h.dir_bytes));
  out.counter("pgwarden_recording_retention_removed_files_total",
              "Closed recordings removed by recording.max_bytes / max_age.",
              static_cast<double>(h.retention_removed_files));
  out.counter("pgwarden_recording_retention_removed_bytes_total", "Bytes of the recordings retention removed.",
              static_cast<double>(h.retention_removed_bytes));
  if (const engine::SessionIndex* index = rec->index()) {
    const auto i = index->health();
    out.gauge("pgwarden_session_index_up", "1 while the session index's database takes writes.", i.up ? 1.0 : 0.0);
    out.counter("pgwarden_session_index_rows_written_total", "Session index rows written.",
                static_cast<double>(i.written));
    out.gauge("pgwarden_session_index_rows_queued", "Session index rows waiting for the database.",
              static_cast<double>(i.queued));
    out.counter("pgwarden_session_index_rows_dropped_total",
                "Session index rows lost because too many waited for the database.", static_cast<double>(i.dropped));
    out.counter("pgwarden_session_index_failures_total", "Session index connects or writes that failed.",
                static_cast<double>(i.failures));
  }
}

void catalogs(PrometheusText& out, const engine::EngineState& state) {
  const engine::CatalogStore* store = state.catalogs();
  if (store == nullptr) return;
  out.family("pgwarden_catalog_loads_total", MetricType::counter,
             "Catalog snapshots loaded from the upstreams (at first use, after DDL, periodically), by result.");
  out.sample({{"result", "ok"}}, static_cast<double>(store->loads()));
  out.sample({{"result", "failed"}}, static_cast<double>(store->load_failures()));
}

void kubernetes(PrometheusText& out, const engine::EngineState& state) {
  const engine::KubernetesWatch* watch = state.kubernetes();
  if (watch == nullptr) return;
  const auto h = watch->pods().health();
  out.gauge("pgwarden_kubernetes_connected", "1 while the pod list is loaded and the API server answers.",
            h.connected ? 1.0 : 0.0);
  out.gauge("pgwarden_kubernetes_pods", "Pods of this node known from the API server.", static_cast<double>(h.pods));
  out.counter("pgwarden_kubernetes_lists_total", "Full pod lists loaded (start, 410 Gone, after errors).",
              static_cast<double>(h.lists));
  out.counter("pgwarden_kubernetes_watch_events_total", "Pod watch events received.", static_cast<double>(h.events));
  out.counter("pgwarden_kubernetes_errors_total", "Failed requests to the API server.", static_cast<double>(h.errors));
}

void bpf_maps(PrometheusText& out, const engine::EngineState& state) {
  const kernel::Interceptor* icpt = state.interceptor();
  if (icpt == nullptr) return;
  auto st = icpt->status();
  if (!st) return;
  out.family("pgwarden_bpf_map_entries", MetricType::gauge, "Entries in each of pgwarden's BPF maps.");
  for (const auto& m : st->maps) {
    if (m.entries) out.sample({{"map", m.name}}, static_cast<double>(*m.entries));
  }
  out.family("pgwarden_bpf_map_max_entries", MetricType::gauge, "Capacity of each of pgwarden's BPF maps.");
  for (const auto& m : st->maps) out.sample({{"map", m.name}}, static_cast<double>(m.max_entries));
  const auto& c = st->counters;
  out.family("pgwarden_bpf_connects_total", MetricType::counter, "Connects seen by the cgroup hooks, by outcome.");
  out.sample({{"outcome", "redirected"}}, static_cast<double>(c.connect_redirected));
  out.sample({{"outcome", "refused"}}, static_cast<double>(c.connect_refused));
  out.sample({{"outcome", "passed_open"}}, static_cast<double>(c.connect_passed_open));
  out.gauge("pgwarden_engine_heartbeat_age_seconds", "Age of the engine's heartbeat as the connect hooks see it.",
            static_cast<double>(st->heartbeat_age.count()) / 1000.0);
}

}  // namespace

std::string render_metrics(const engine::EngineState& state, const std::function<void(PrometheusText&)>& more) {
  PrometheusText out;
  sessions(out, state);
  statements(out, state);
  approvals(out, state);
  recordings(out, state);
  catalogs(out, state);
  kubernetes(out, state);
  bpf_maps(out, state);
  if (more) more(out);
  return out.take();
}

}  // namespace pgw::admin
