// The relay's hold for approval, at message level: a held message sends
// nothing upstream and begins no request; released approved it goes on as
// if allowed (once), refused it becomes a denial marker in its place whose
// error the client reads as pgwarden's. The policy side is a small filter
// that holds every text starting with DROP unless the request is approved.
#include <gtest/gtest.h>

#include "relay_test_support.h"

namespace pgw::relay::testing {
namespace {

class HoldDrops final : public RelayFilter {
 public:
  int asked = 0;
  Verdict on_request(Request& r, const ClientMessage&) override {
    if (!r.text || r.text->sql.rfind("DROP", 0) != 0 || r.approved) return Verdict::forward();
    ++asked;
    approval::Ask ask;
    ask.sql = r.text->sql;
    ask.rule = "approve: ddl";
    ask.message = "pgwarden: drop requires approval by policy for test";
    return Verdict::hold(std::move(ask));
  }
  bool wants(char, const Answer&) const override { return false; }
  Outcome on_answer(char, std::string_view, const Answer&, std::string&) override { return Outcome::forward; }
  const std::string& failure() const override { return failure_; }

 private:
  std::string failure_;
};

struct HoldHarness : RelayHarness {
  HoldDrops* filter = nullptr;
  HoldHarness() {
    auto f = std::make_unique<HoldDrops>();
    filter = f.get();
    relay.add_filter(std::move(f));
  }
  Relay::Outcome send_held(const std::string& whole) {
    std::string out;
    return relay.on_client_message(whole[0], whole, out);
  }
};

TEST(RelayHold, AHeldQuerySendsNothingAndBeginsNoRequest) {
  HoldHarness h;
  EXPECT_EQ(h.send_held(query("DROP TABLE t")), Relay::Outcome::hold);
  EXPECT_TRUE(h.relay.holding_client());
  ASSERT_NE(h.relay.held_ask(), nullptr);
  EXPECT_EQ(h.relay.held_ask()->sql, "DROP TABLE t");
  // The hash covers the message as sent.
  EXPECT_EQ(h.relay.held_ask()->statement_hash.size(), 64u);
  EXPECT_TRUE(h.upstream.empty());
  EXPECT_TRUE(h.relay.tracker().idle());
}

TEST(RelayHold, ApprovedItGoesOnOnceAsSent) {
  HoldHarness h;
  const std::string drop = query("DROP TABLE t");
  ASSERT_EQ(h.send_held(drop), Relay::Outcome::hold);
  std::string out;
  EXPECT_EQ(h.relay.release_held(std::nullopt, out), Relay::Outcome::replace);
  EXPECT_EQ(out, drop);
  EXPECT_FALSE(h.relay.holding_client());
  EXPECT_EQ(h.filter->asked, 1);
  h.server(command_complete("DROP TABLE"));
  h.server(ready());
  EXPECT_EQ(types_of(h.client), "CZ");
  // The same text again is asked again: an approval is used once.
  EXPECT_EQ(h.send_held(drop), Relay::Outcome::hold);
  EXPECT_EQ(h.filter->asked, 2);
}

TEST(RelayHold, RefusedItBecomesADenialInItsPlace) {
  HoldHarness h;
  // Longer than std::string's inline buffer: the refusal decodes the held
  // bytes, and a copy that dies too soon is a use-after-free ASan sees
  // (scripts/test --sanitize found one).
  ASSERT_EQ(h.send_held(query("DROP TABLE customers_archive_2026")), Relay::Outcome::hold);
  std::string out;
  EXPECT_EQ(h.relay.release_held(Verdict::deny("pgwarden: approval n-1 denied by bob: no"), out),
            Relay::Outcome::replace);
  EXPECT_EQ(out.find("DROP TABLE"), std::string::npos);  // the statement never goes upstream
  h.upstream += out;
  // The server refuses the marker (a Query whose text names its token);
  // the client reads pgwarden's refusal.
  const std::string marker_sql = out.substr(5, out.size() - 6);
  h.server(error("42601", "syntax error at or near \"" + marker_sql + "\""));
  h.server(ready());
  ASSERT_EQ(types_of(h.client), "EZ");
  EXPECT_NE(h.client.find("approval n-1 denied by bob: no"), std::string::npos);
  EXPECT_NE(h.client.find("42501"), std::string::npos);
}

TEST(RelayHold, MessagesBeforeTheHeldOneAreAnsweredInOrder) {
  HoldHarness h;
  EXPECT_TRUE(h.send(query("SELECT 1")));
  ASSERT_EQ(h.send_held(query("DROP TABLE t")), Relay::Outcome::hold);
  EXPECT_EQ(types_of(h.upstream), "Q");
  // The SELECT's answers reach the client while the DROP waits.
  for (const std::string& m : {row_description({field("?column?", 0, 0, 23)}), data_row({"1"}),
                               command_complete("SELECT 1"), ready()}) {
    h.server(m);
  }
  EXPECT_EQ(types_of(h.client), "TDCZ");
  EXPECT_TRUE(h.relay.holding_client());
}

}  // namespace
}  // namespace pgw::relay::testing
