// The allowed decision's event is built as text for speed; it must stay the
// JSON nlohmann would write for the same object, so readers of recordings
// see one shape whichever way an event was made.
#include "engine/relay/decision_event.h"

#include <gtest/gtest.h>

namespace pgw::relay {
namespace {

TEST(DecisionEvent, AllowedTextIsWhatNlohmannDumps) {
  std::string out = "left over from the previous statement, longer than the event";
  const sql::ClassSet cases[] = {{}, {sql::StatementClass::select},
                                 {sql::StatementClass::select, sql::StatementClass::copy_to,
                                  sql::StatementClass::unknown}};
  for (const auto& classes : cases) {
    for (std::string_view type : {"Query", "Parse", "Bind", "FunctionCall"}) {
      allowed_decision_event(out, classes, type);
      const nlohmann::json expected = {{"event", "decision"},
                                       {"decision", "allow"},
                                       {"message_type", std::string(type)},
                                       {"classes", classes.to_string()}};
      EXPECT_EQ(out, expected.dump());
    }
  }
}

TEST(DecisionEvent, RefusedCarriesRuleAndMessage) {
  const auto e = refused_decision_event("deny", {sql::StatementClass::delete_}, "Query", "deny: delete",
                                        "DELETE is not allowed");
  EXPECT_EQ(e.dump(),
            R"({"classes":"delete","decision":"deny","event":"decision","message":"DELETE is not allowed",)"
            R"("message_type":"Query","rule":"deny: delete"})");
}

TEST(DecisionEvent, AllowedReusesItsBuffer) {
  std::string out;
  allowed_decision_event(out, {sql::StatementClass::select}, "Query");
  const auto* data = out.data();
  const auto capacity = out.capacity();
  for (int i = 0; i < 100; ++i) allowed_decision_event(out, {sql::StatementClass::select}, "Query");
  EXPECT_EQ(out.data(), data);
  EXPECT_EQ(out.capacity(), capacity);
}

}  // namespace
}  // namespace pgw::relay
