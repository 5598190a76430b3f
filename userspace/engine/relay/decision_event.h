// The recording's decision event: one per decided client message (Query,
// Parse, Bind, FunctionCall). Allowed ones are nearly every statement, so
// theirs is appended as text into a buffer the caller keeps (no JSON tree,
// no allocation once the buffer has grown); the others are rare and carry a
// rule and a message, so they are built with nlohmann::json. Both dump the
// same shape: {"classes","decision","event":"decision","message_type"[,
// "message","rule"]}, keys in nlohmann's sorted order.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sql/statement_facts.h"

namespace pgw::relay {

// Replaces `out` with the allowed decision's event. `message_type` is a
// protocol message name ("Query", "Bind"): letters and spaces only, no
// escaping needed, like the class names.
void allowed_decision_event(std::string& out, sql::ClassSet classes, std::string_view message_type);

// A denied or held message's event.
nlohmann::json refused_decision_event(std::string_view decision, sql::ClassSet classes,
                                      std::string_view message_type, const std::string& rule,
                                      const std::string& message);

}  // namespace pgw::relay
