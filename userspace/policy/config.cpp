#include "policy/config.h"

namespace pgw::policy {

std::string_view to_string(ClientTls m) {
  switch (m) {
    case ClientTls::disable: return "disable";
    case ClientTls::allow: return "allow";
    case ClientTls::require: return "require";
  }
  return "?";
}

std::string_view to_string(TlsMode m) {
  switch (m) {
    case TlsMode::disable: return "disable";
    case TlsMode::prefer: return "prefer";
    case TlsMode::require: return "require";
    case TlsMode::verify_ca: return "verify-ca";
    case TlsMode::verify_full: return "verify-full";
  }
  return "?";
}

std::string_view to_string(FailMode m) { return m == FailMode::closed ? "closed" : "open"; }

std::string_view to_string(DefaultAction a) { return a == DefaultAction::deny ? "deny" : "allow"; }

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::trace: return "trace";
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "?";
}

std::string_view to_string(UnparseableAction a) {
  return a == UnparseableAction::deny ? "deny" : "forward";
}

bool Config::wants_kubernetes() const {
  if (kubernetes.enabled) return true;
  for (const IdentityRule& rule : identities) {
    if (!rule.k8s.empty()) return true;
  }
  return false;
}

const Upstream* Config::find_upstream(std::string_view name) const {
  for (const auto& u : upstreams) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

const IdentityRule* Config::find_identity(std::string_view name) const {
  for (const auto& i : identities) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

const Policy* Config::policy_for(std::string_view identity, std::string_view upstream) const {
  for (const auto& p : policies) {
    if (p.identity == identity && (!p.upstream || *p.upstream == upstream)) return &p;
  }
  return nullptr;
}

}  // namespace pgw::policy
