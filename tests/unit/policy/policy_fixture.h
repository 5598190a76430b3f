// A Policy for decision tests, written the way users write it: YAML through
// the real config loader, so a test cannot build a policy the loader would
// refuse.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "policy/config.h"
#include "policy/session_sql_state.h"

namespace pgw::policy::testing {

// `rules` is the body of one policy entry for identity "agent" on upstream
// "app", indented by four spaces, e.g. "    allow: [select]\n".
inline std::shared_ptr<const Config> load_policy_config(const std::string& rules) {
  const std::string yaml =
      "upstreams:\n"
      "  - name: app\n"
      "    match: [\"127.0.0.1:5432\"]\n"
      "    address: 127.0.0.1:5432\n"
      "    user: app_owner\n"
      "identities:\n"
      "  - name: agent\n"
      "    match: { uid: [1000] }\n"
      "policies:\n"
      "  - identity: agent\n"
      "    upstream: app\n" +
      rules;
  auto config = load_config_string(yaml, "test.yaml", "");
  if (!config) {
    ADD_FAILURE() << config.error();
    return nullptr;
  }
  return std::make_shared<const Config>(std::move(config.value()));
}

// A session with nothing in flight and nothing prepared.
inline const StandaloneProtocol& idle_protocol() {
  static const StandaloneProtocol protocol;
  return protocol;
}

// The session a fresh connection of app_owner starts with.
inline SessionSqlState fresh_state(const std::string& search_path = "\"$user\", public",
                                   const SessionProtocol& protocol = idle_protocol()) {
  SessionSqlState::Start start;
  start.login_user = "app_owner";
  start.search_path = search_path;
  return SessionSqlState(start, protocol);
}

}  // namespace pgw::policy::testing
