#include "engine/kubernetes_watch.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/kubernetes_api.h"

namespace pgw::engine {

namespace {

using Json = nlohmann::json;

constexpr std::chrono::milliseconds kFirstDelay{500};
constexpr std::chrono::milliseconds kMaxDelay{30'000};
constexpr size_t kMaxListBody = 64u << 20;   // a node's pods, with room to spare
constexpr size_t kMaxEventLine = 4u << 20;   // one pod object
constexpr int kWatchSeconds = 240;           // the server ends the watch; resumed at once

std::string text_at(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A Pod object as the API returns it; nothing when it lacks a uid.
std::shared_ptr<const policy::KubernetesPod> pod_from_json(const Json& object) {
  if (!object.is_object()) return nullptr;
  const Json& meta = object.value("metadata", Json::object());
  const Json& spec = object.value("spec", Json::object());
  auto pod = std::make_shared<policy::KubernetesPod>();
  pod->uid = text_at(meta, "uid");
  if (pod->uid.empty()) return nullptr;
  pod->namespace_name = text_at(meta, "namespace");
  pod->name = text_at(meta, "name");
  pod->service_account = text_at(spec, "serviceAccountName");
  // The API server fills it in; an old object may have only the deprecated field.
  if (pod->service_account.empty()) pod->service_account = text_at(spec, "serviceAccount");
  if (pod->service_account.empty()) pod->service_account = "default";
  if (auto labels = meta.find("labels"); labels != meta.end() && labels->is_object()) {
    for (const auto& [key, value] : labels->items()) {
      if (value.is_string()) pod->labels[key] = value.get<std::string>();
    }
  }
  return pod;
}

std::string resource_version_of(const Json& object) {
  if (!object.is_object()) return {};
  return text_at(object.value("metadata", Json::object()), "resourceVersion");
}

// A Status object's "410: too old resource version" style summary.
std::string status_text(const Json& status) {
  std::string out = std::to_string(status.value("code", 0));
  if (std::string msg = text_at(status, "message"); !msg.empty()) out += ": " + msg.substr(0, 200);
  return out;
}

std::optional<std::string> read_token(const std::string& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  if (token.empty() || token.find_first_of("\r\n") != std::string::npos) return std::nullopt;
  return token;
}

std::string in_cluster_api_server() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0') return {};
  std::string h(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return "https://" + h + ":" + (port != nullptr && *port != '\0' ? std::string(port) : std::string("443"));
}

std::string selector_query(const std::string& node) { return "fieldSelector=" + url_encode("spec.nodeName=" + node); }

}  // namespace

Result<std::unique_ptr<KubernetesWatch>> KubernetesWatch::start(const policy::KubernetesConfig& config) {
  std::string api = config.api_server.empty() ? in_cluster_api_server() : config.api_server;
  if (api.empty()) {
    return make_error(
        "kubernetes: no API server to resolve pods through: set kubernetes.api_server, or run pgwarden in a pod "
        "(KUBERNETES_SERVICE_HOST is not set)");
  }
  std::string node = config.node_name;
  if (node.empty()) {
    const char* env = std::getenv(config.node_name_env.c_str());
    if (env != nullptr) node = env;
  }
  if (node.empty()) {
    return make_error("kubernetes: no node name: set kubernetes.node_name, or the environment variable " +
                      config.node_name_env + " (the DaemonSet sets it from spec.nodeName)");
  }
  std::unique_ptr<KubernetesWatch> w(new KubernetesWatch(config, std::move(api), std::move(node)));
  w->thread_ = std::thread([raw = w.get()] { raw->run(); });
  spdlog::info("kubernetes: resolving pods of node {} through {}", w->node_name_, w->api_server_);
  return w;
}

KubernetesWatch::KubernetesWatch(policy::KubernetesConfig config, std::string api_server, std::string node_name)
    : config_(std::move(config)), api_server_(std::move(api_server)), node_name_(std::move(node_name)) {}

KubernetesWatch::~KubernetesWatch() { stop(); }

void KubernetesWatch::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool KubernetesWatch::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

void KubernetesWatch::backoff() {
  delay_ = delay_.count() == 0 ? kFirstDelay : std::min(delay_ * 2, kMaxDelay);
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, delay_, [&] { return stopping_; });
}

void KubernetesWatch::run() {
  while (!stopping()) {
    if (resource_version_.empty()) {
      if (auto err = list()) {
        if (stopping()) break;
        spdlog::warn("kubernetes: listing the pods of node {} failed: {}", node_name_, *err);
        pods_.set_error(*err);
        backoff();
        continue;
      }
    }
    const auto began = std::chrono::steady_clock::now();
    auto err = watch();
    if (stopping()) break;
    if (err) {
      spdlog::warn("kubernetes: watching the pods of node {} failed: {}", node_name_, *err);
      pods_.set_error(*err);
      backoff();
    } else if (std::chrono::steady_clock::now() - began < std::chrono::seconds(1) && !resource_version_.empty()) {
      // A server that ends every watch at once must not make this a busy loop.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    }
  }
}

std::optional<std::string> KubernetesWatch::list() {
  auto token = read_token(config_.token_file);
  if (!token) return "cannot read a token from " + config_.token_file;
  KubernetesPods::PodMap pods;
  std::string cont;
  std::string version;
  do {
    std::string body;
    KubernetesGet get;
    get.url = api_server_ + "/api/v1/pods?" + selector_query(node_name_) + "&limit=500";
    if (!cont.empty()) get.url += "&continue=" + url_encode(cont);
    get.token = *token;
    get.ca_file = config_.ca_file;
    get.cancelled = [this] { return stopping(); };
    get.on_data = [&](std::string_view piece) {
      if (body.size() + piece.size() > kMaxListBody) return false;
      body.append(piece);
      return true;
    };
    auto status = kubernetes_get(get);
    if (!status) return status.error();
    const Json reply = Json::parse(body, nullptr, false);
    if (*status != 200) {
      std::string why = "HTTP " + std::to_string(*status);
      if (reply.is_object()) why += " (" + status_text(reply) + ")";
      return why;
    }
    if (!reply.is_object() || !reply.contains("items") || !reply["items"].is_array()) {
      return std::string("the answer is not a PodList");
    }
    for (const Json& item : reply["items"]) {
      if (auto pod = pod_from_json(item)) pods[pod->uid] = std::move(pod);
    }
    const Json& meta = reply.value("metadata", Json::object());
    version = text_at(meta, "resourceVersion");
    cont = text_at(meta, "continue");
  } while (!cont.empty() && !stopping());
  if (stopping()) return std::string("stopping");
  if (version.empty()) return std::string("the PodList has no resourceVersion");
  spdlog::info("kubernetes: {} pods on node {} (resourceVersion {})", pods.size(), node_name_, version);
  pods_.replace_all(std::move(pods));
  resource_version_ = version;
  delay_ = std::chrono::milliseconds(0);
  return std::nullopt;
}

std::optional<std::string> KubernetesWatch::watch() {
  auto token = read_token(config_.token_file);
  if (!token) return "cannot read a token from " + config_.token_file;
  std::string line_buffer;
  std::optional<std::string> failure;
  bool relist = false;
  auto handle_line = [&](std::string_view line) -> bool {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) return true;
    const Json event = Json::parse(line, nullptr, false);
    if (!event.is_object()) {
      failure = "the watch sent something that is not a JSON event";
      return false;
    }
    if (text_at(event, "kind") == "Status") {
      // Not an event: the server refused the watch (status other than 200).
      if (event.value("code", 0) == 410) relist = true;
      else failure = "HTTP " + status_text(event);
      return false;
    }
    const std::string type = text_at(event, "type");
    const Json& object = event.value("object", Json::object());
    pods_.count_event();
    if (type == "ADDED" || type == "MODIFIED") {
      if (auto pod = pod_from_json(object)) pods_.upsert(std::move(pod));
    } else if (type == "DELETED") {
      if (auto pod = pod_from_json(object)) pods_.remove(pod->uid);
    } else if (type == "ERROR") {
      if (object.value("code", 0) == 410) {
        relist = true;  // the version is too old: start again from a list
      } else {
        failure = "the watch reported " + status_text(object);
      }
      return false;
    } else if (type != "BOOKMARK") {
      failure = "the watch sent an event of unknown type " + type.substr(0, 40);
      return false;
    }
    if (std::string v = resource_version_of(object); !v.empty()) resource_version_ = v;
    return true;
  };

  KubernetesGet get;
  get.url = api_server_ + "/api/v1/pods?" + selector_query(node_name_) + "&watch=1&allowWatchBookmarks=true" +
            "&timeoutSeconds=" + std::to_string(kWatchSeconds) + "&resourceVersion=" + url_encode(resource_version_);
  get.token = *token;
  get.ca_file = config_.ca_file;
  get.timeout = std::chrono::seconds(kWatchSeconds + 60);
  get.cancelled = [this] { return stopping(); };
  get.on_data = [&](std::string_view piece) {
    line_buffer.append(piece);
    size_t start = 0;
    for (size_t nl; (nl = line_buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
      if (!handle_line(std::string_view(line_buffer).substr(start, nl - start))) return false;
    }
    line_buffer.erase(0, start);
    if (line_buffer.size() > kMaxEventLine) {
      failure = "a watch event is larger than " + std::to_string(kMaxEventLine >> 20) + " MiB";
      return false;
    }
    return true;
  };
  auto status = kubernetes_get(get);
  // The last line may come without its newline (and an error Status does).
  if (status && !failure && !relist && !line_buffer.empty()) handle_line(line_buffer);
  if (status && *status == 410) relist = true;
  if (relist) {
    spdlog::info("kubernetes: resourceVersion {} expired (410 Gone): listing again", resource_version_);
    resource_version_.clear();
    return std::nullopt;
  }
  // After a failure the next round lists again: the events missed while the
  // watch was down are then not missed, and the cache is known complete.
  if (failure) {
    resource_version_.clear();
    return failure;
  }
  if (!status) {
    resource_version_.clear();
    return status.error();
  }
  if (*status != 200) {
    resource_version_.clear();
    return "HTTP " + std::to_string(*status);
  }
  delay_ = std::chrono::milliseconds(0);
  return std::nullopt;  // the server ended the watch: resume from resource_version_
}

}  // namespace pgw::engine
