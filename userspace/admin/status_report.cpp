#include "admin/status_report.h"

#include "engine/kubernetes_watch.h"
#include "engine/recording_service.h"

#include <unistd.h>

namespace pgw::admin {

namespace {

int64_t unix_seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

nlohmann::json sessions_json(const engine::EngineState& state) {
  nlohmann::json list = nlohmann::json::array();
  const auto now = std::chrono::system_clock::now();
  for (const auto& s : state.sessions().snapshot()) {
    list.push_back({
        {"id", s->name},
        {"number", s->id},
        {"identity", s->identity},
        {"workload", s->workload},
        {"upstream", s->upstream},
        {"user", s->user},
        {"database", s->database},
        {"started", unix_seconds(s->started)},
        {"age_s", std::chrono::duration_cast<std::chrono::seconds>(now - s->started).count()},
        {"bytes_from_client", s->bytes_from_client.load(std::memory_order_relaxed)},
        {"bytes_to_client", s->bytes_to_client.load(std::memory_order_relaxed)},
    });
  }
  return list;
}

namespace {

// The eBPF side, in the shape of `bpftool prog show` / `map show`.
nlohmann::json intercept_json(const engine::EngineState& state) {
  const kernel::Interceptor* icpt = state.interceptor();
  if (icpt == nullptr) return {{"enabled", false}};
  auto st = icpt->status();
  if (!st) return {{"enabled", true}, {"error", st.error()}};
  nlohmann::json programs = nlohmann::json::array();
  for (const auto& p : st->programs) {
    nlohmann::json prog = {{"name", p.name},
                           {"id", p.prog_id},
                           {"link_id", p.link_id},
                           {"attach_type", p.attach_type},
                           {"attach_point", p.attach_point},
                           {"pin", p.pin}};
    if (p.run_count) prog["run_cnt"] = *p.run_count;
    if (p.run_time_ns) prog["run_time_ns"] = *p.run_time_ns;
    programs.push_back(std::move(prog));
  }
  nlohmann::json maps = nlohmann::json::array();
  for (const auto& m : st->maps) {
    nlohmann::json entry = {{"name", m.name}, {"id", m.id}, {"type", m.type}, {"max_entries", m.max_entries},
                            {"pin", m.pin}};
    if (m.entries) entry["entries"] = *m.entries;
    maps.push_back(entry);
  }
  const auto& c = st->counters;
  return {{"enabled", true},
          {"cgroup", st->cgroup},
          {"pin_dir", st->pin_dir},
          {"took_over", st->took_over},
          {"fail", st->fail_closed ? "closed" : "open"},
          {"fast_path", st->fast_path},
          {"engine_alive", st->engine_alive},
          {"heartbeat_age_ms", st->heartbeat_age.count()},
          {"unix_sockets", st->unix_sockets},
          {"unix_paths", st->unix_paths},
          {"unix_target", st->unix_target},
          {"programs", programs},
          {"maps", maps},
          {"counters",
           {{"connect_redirected", c.connect_redirected},
            {"connect_refused", c.connect_refused},
            {"connect_passed_open", c.connect_passed_open},
            {"connect_own_socket", c.connect_own_socket},
            {"accept_matched", c.accept_matched},
            {"sockhash_added", c.sockhash_added},
            {"fast_bytes", c.fast_bytes},
            {"tcp_bytes", c.tcp_bytes}}}};
}

}  // namespace

namespace {

nlohmann::json recording_json(const engine::EngineState& state) {
  const engine::RecordingService* rec = state.recordings();
  if (rec == nullptr) return {{"enabled", false}};
  const auto h = rec->health();
  nlohmann::json j = {{"enabled", true},     {"dir", h.dir},           {"required", h.required},
                      {"sessions", h.sessions}, {"open", h.open},      {"records", h.records},
                      {"failures", h.failures}, {"failed_sessions", h.failed_sessions}, {"last_error", h.last_error},
                      {"backpressure_pauses", h.backpressure_pauses},
                      {"refusing", !rec->refusing().empty()},
                      {"retention",
                       {{"max_bytes", h.max_bytes},
                        {"max_age_s", h.max_age_s},
                        {"dir_bytes", h.dir_bytes},
                        {"removed_files", h.retention_removed_files},
                        {"removed_bytes", h.retention_removed_bytes}}}};
  if (const engine::SessionIndex* index = rec->index()) {
    const auto i = index->health();
    j["index"] = {{"up", i.up},         {"written", i.written},   {"queued", i.queued},
                  {"dropped", i.dropped}, {"failures", i.failures}, {"last_error", i.last_error}};
  }
  return j;
}

nlohmann::json kubernetes_json(const engine::EngineState& state) {
  const engine::KubernetesWatch* watch = state.kubernetes();
  if (watch == nullptr) return {{"enabled", false}};
  const auto h = watch->pods().health();
  nlohmann::json out = {{"enabled", true},       {"api_server", watch->api_server()}, {"node", watch->node_name()},
                        {"connected", h.connected}, {"synced", h.synced},             {"pods", h.pods},
                        {"lists", h.lists},       {"events", h.events},              {"errors", h.errors},
                        {"last_error", h.last_error}};
  out["last_list"] = h.last_list ? nlohmann::json(unix_seconds(*h.last_list)) : nlohmann::json(nullptr);
  return out;
}

}  // namespace

// The last SIGHUP: when, and why it was refused (the old config stays).
nlohmann::json reload_json(const engine::EngineState& state) {
  const engine::ReloadOutcome r = state.last_reload();
  if (!r.at) return nullptr;
  nlohmann::json out = {{"at", unix_seconds(*r.at)}, {"ok", r.ok}, {"failures", r.failures}};
  if (!r.ok) out["error"] = r.error;
  return out;
}

nlohmann::json status_json(const engine::EngineState& state, const DaemonFacts& facts) {
  auto config = state.config();
  nlohmann::json upstreams = nlohmann::json::array();
  for (const auto& u : config->upstreams) {
    nlohmann::json match = nlohmann::json::array();
    for (const auto& m : u.match) match.push_back(m.to_string());
    for (const auto& path : u.match_unix) match.push_back(path);
    // Never the password: only whether one is configured.
    upstreams.push_back({{"name", u.name},
                         {"address", u.address.to_string()},
                         {"user", u.user},
                         {"match", match},
                         {"tls", std::string(policy::to_string(u.tls))},
                         {"password", u.password ? "configured" : "none"}});
  }
  return {
      {"ok", true},
      {"daemon",
       {{"pid", ::getpid()},
        {"started", unix_seconds(state.started)},
        {"uptime_s",
         std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - state.started).count()},
        {"config", facts.config_path},
        {"config_generation", state.config_generation()},
        {"last_reload", reload_json(state)},
        {"policy_hash", config->sha256},
        {"workers", facts.workers}}},
      {"listeners",
       {{"listen", config->listen.to_string()},
        {"unix_socket", config->unix_socket},
        {"admin_socket", config->admin_socket}}},
      {"upstreams", upstreams},
      {"intercept", intercept_json(state)},
      {"recording", recording_json(state)},
      {"kubernetes", kubernetes_json(state)},
      {"sessions",
       {{"open", state.sessions_open.load()},
        {"total", state.sessions_total.load()},
        {"tls_open", state.tls_sessions_open.load()},
        {"tls_total", state.tls_sessions_total.load()},
        {"cancel_keys", state.cancels_size()},
        {"list", sessions_json(state)}}},
  };
}


}  // namespace pgw::admin
