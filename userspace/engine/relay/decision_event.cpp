#include "engine/relay/decision_event.h"

namespace pgw::relay {

void allowed_decision_event(std::string& out, sql::ClassSet classes, std::string_view message_type) {
  out.assign(R"({"classes":")");
  classes.append_to(out);
  out.append(R"(","decision":"allow","event":"decision","message_type":")");
  out.append(message_type);
  out.append(R"("})");
}

nlohmann::json refused_decision_event(std::string_view decision, sql::ClassSet classes,
                                      std::string_view message_type, const std::string& rule,
                                      const std::string& message) {
  return {{"event", "decision"},
          {"decision", std::string(decision)},
          {"message_type", std::string(message_type)},
          {"classes", classes.to_string()},
          {"rule", rule},
          {"message", message}};
}

}  // namespace pgw::relay
