// Error text, notices, NOTIFY payloads and ParameterStatus carry values too:
// what the scrubber lets through must hold no masked value and no value the
// policy's detectors know, a message with nothing to hide must pass
// untouched, and a policy without mask rules must change no byte at all.
#include "engine/side_channels.h"

#include <gtest/gtest.h>

#include <list>

#include "engine/mask_models.h"
#include "engine/server_message_formats.h"
#include "pgwire/backend_messages.h"
#include "pgwire/error_response.h"
#include "policy/mask_model.h"

namespace pgw::engine {
namespace {

std::string body_of(const std::string& whole) { return whole.substr(5); }

std::string error_body(std::string_view message, std::string_view detail = {}, std::string_view where = {},
                       std::string_view hint = {}, std::string_view sqlstate = "22P02") {
  pgwire::ErrorResponse e;
  e.fields.push_back({'S', "ERROR"});
  e.fields.push_back({'V', "ERROR"});
  e.fields.push_back({'C', sqlstate});
  e.fields.push_back({'M', message});
  if (!detail.empty()) e.fields.push_back({'D', detail});
  if (!hint.empty()) e.fields.push_back({'H', hint});
  if (!where.empty()) e.fields.push_back({'W', where});
  e.fields.push_back({'P', "8"});
  std::string out;
  pgwire::encode(e, out);
  return body_of(out);
}

const mask::DetectorSet kAll = mask::DetectorSet::all();
const mask::MaskFunction kRedact = mask::MaskFunction::redact();
// A policy with column rules and every detector, for a statement that reads
// masked values or not; and one with column rules only.
const SideChannelRules kReadsMasked{&kAll, &kRedact, true};
const SideChannelRules kDetectorsOnly{&kAll, &kRedact, false};
const SideChannelRules kRulesWithoutDetectors{nullptr, nullptr, true};
const SideChannelRules kNoMaskRule{};

// The mask model of a policy with `rule` alone (no catalog: rules name
// relations by their globs); null if it cannot be built.
std::shared_ptr<const policy::MaskModel> model_with(policy::MaskRule rule) {
  policy::Policy p;
  p.identity = "agent";
  p.mask = {std::move(rule)};
  auto model = policy::MaskModel::build(p, nullptr, nullptr);
  EXPECT_TRUE(model.ok());
  return model.ok() ? *model : nullptr;
}

// A column rule on customers' SSN, and no detector.
policy::MaskRule ssn_column_rule() {
  policy::MaskRule column;
  column.column = "public.customers.ssn";
  return column;
}

// The decoded fields point into the body: bodies are kept for the test run.
pgwire::ErrorResponse decoded(const std::optional<std::string>& whole) {
  static std::list<std::string> bodies;
  if (!whole) {
    ADD_FAILURE() << "nothing to decode";
    return {};
  }
  bodies.push_back(body_of(*whole));
  auto e = pgwire::ErrorResponse::decode(bodies.back());
  if (!e.ok()) {
    ADD_FAILURE() << e.error();
    return {};
  }
  return *e;
}

TEST(ServerMessageFormats, OnlyTheFormatsLiteralTextIsKept) {
  EXPECT_EQ(fixed_wording("requested character too large for encoding: 820335340"),
            "requested character too large for encoding: ***");
  EXPECT_EQ(fixed_wording("date field value out of range: 820-33-5340"), "date field value out of range: ***-***-***");
  EXPECT_EQ(fixed_wording("transaction ID 820335340 is in the future"), "transaction ID *** is in the future");
  EXPECT_EQ(fixed_wording("index 820335340 out of valid range, 0..7"), "index *** out of valid range, 0..***");
  EXPECT_EQ(fixed_wording("invalid input syntax for type integer: \"820-33-5340\""),
            "invalid input syntax for type ***: \"***\"");
  EXPECT_EQ(fixed_wording("large object 820335340 does not exist"), "large object *** does not exist");
  // No conversion: the message is all fixed wording.
  EXPECT_EQ(fixed_wording("integer out of range"), "integer out of range");
  // A value that happens to contain a format's words does not pass: only the
  // format's own literals come out.
  EXPECT_EQ(fixed_wording("column \"integer out of range 820335340\" does not exist"),
            "column \"***\" does not exist");
  // Nothing PostgreSQL would print: no fixed part is known.
  EXPECT_FALSE(fixed_wording("820-33-5340"));
  EXPECT_FALSE(fixed_wording("ungültige Eingabesyntax für Typ integer: »820-33-5340«"));
}

TEST(SideChannels, CastErrorOfAMaskedColumnKeepsOnlyFixedWording) {
  auto out = scrub_error_or_notice('E', error_body("invalid input syntax for type integer: \"123-45-6789\""),
                                   kReadsMasked);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("6789"), std::string::npos);
  const auto e = decoded(out);
  EXPECT_EQ(e.sqlstate(), "22P02");
  EXPECT_EQ(e.message(), "invalid input syntax for type ***: \"***\"");
  EXPECT_EQ(e.find('P'), "8");  // a position in the client's own statement
  EXPECT_NE(e.detail().find("withheld"), std::string::npos);
}

TEST(SideChannels, BareNumbersDerivedFromMaskedValuesAreWithheld) {
  for (auto [message, sqlstate] : std::vector<std::pair<std::string, std::string>>{
           {"requested character too large for encoding: 820335340", "54000"},
           {"date field value out of range: 820-33-5340", "22008"},
           {"time field value out of range: 820335340:00:00", "22008"},
           {"transaction ID 820335340 is in the future", "22023"},
           {"index 820335340 out of valid range, 0..7", "2202E"},
           {"setseed parameter 8.20335e+08 is out of allowed range [-1,1]", "22023"}}) {
    auto out = scrub_error_or_notice('E', error_body(message, {}, {}, {}, sqlstate), kReadsMasked);
    ASSERT_TRUE(out) << message;
    EXPECT_EQ(out->find("820"), std::string::npos) << message;
    const auto e = decoded(out);
    EXPECT_EQ(e.sqlstate(), sqlstate);
    EXPECT_EQ(e.find('S'), "ERROR");
  }
  // A message of no known wording: one fixed sentence.
  auto out = scrub_error_or_notice('E', error_body("custom failure for 820335340"), kReadsMasked);
  const auto e = decoded(out);
  EXPECT_EQ(e.message(), "pgwarden: the server's message was withheld");
  EXPECT_EQ(e.sqlstate(), "22P02");
}

TEST(SideChannels, DetailHintAndContextKeepOnlyFixedWording) {
  auto out = scrub_error_or_notice(
      'E',
      error_body("duplicate key value violates unique constraint \"c_ssn\"", "Key (ssn)=(98765) already exists.",
                 "SQL function \"f\" statement 1",
                 "No function matches the given name and argument types. You might need to add explicit type casts."),
      kReadsMasked);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("98765"), std::string::npos);
  const auto e = decoded(out);
  EXPECT_EQ(e.message(), "duplicate key value violates unique constraint \"***\"");
  EXPECT_EQ(e.detail(), "Key *** already exists.\n"
                        "pgwarden: values in this message were withheld because the statement reads masked values");
  EXPECT_EQ(e.find('W'), "SQL function \"***\" statement ***");
  EXPECT_EQ(e.find('H'), "No function matches the given name and argument types. You might need to add explicit type casts.");
  // A detail of no known wording is dropped.
  auto dropped = scrub_error_or_notice('E', error_body("integer out of range", "line 1: 123-45-6789"), kReadsMasked);
  const auto d = decoded(dropped);
  EXPECT_EQ(d.message(), "integer out of range");
  EXPECT_EQ(d.detail(), "pgwarden: values in this message were withheld because the statement reads masked values");
  // Nothing to withhold: forwarded as is.
  EXPECT_FALSE(scrub_error_or_notice('E', error_body("integer out of range"), kReadsMasked));
}

TEST(SideChannels, ErrorsOfOtherStatementsOnlyLoseWhatThePolicysDetectorsFind) {
  EXPECT_FALSE(scrub_error_or_notice('E', error_body("relation \"nope\" does not exist"), kDetectorsOnly));
  auto out = scrub_error_or_notice('E', error_body("bad value \"jane.doe@example.com\" and 4111 1111 1111 1111"),
                                   kDetectorsOnly);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("jane.doe@example.com"), std::string::npos);
  EXPECT_EQ(out->find("4111 1111 1111 1111"), std::string::npos);
  EXPECT_NE(out->find("bad value"), std::string::npos);
  // Only the policy's detectors: one that detects emails leaves cards alone.
  const mask::DetectorSet email_only{mask::Detector::email};
  const SideChannelRules email_rule{&email_only, &kRedact, false};
  auto partial = scrub_error_or_notice('E', error_body("a@b.io and 4111 1111 1111 1111"), email_rule);
  ASSERT_TRUE(partial);
  EXPECT_EQ(decoded(partial).message(), "****** and 4111 1111 1111 1111");
  // Column rules without detectors: a statement that reads no masked value keeps its error.
  EXPECT_FALSE(scrub_error_or_notice('E', error_body("bad value 4111 1111 1111 1111"),
                                     SideChannelRules{nullptr, nullptr, false}));
  EXPECT_TRUE(scrub_error_or_notice('E', error_body("requested character too large for encoding: 820335340"),
                                    kRulesWithoutDetectors));
}

TEST(SideChannels, APolicyWithoutMaskRulesChangesNoByte) {
  const std::string bigint = error_body("value \"-9223372036854775809\" is out of range for type bigint");
  EXPECT_FALSE(scrub_error_or_notice('E', bigint, kNoMaskRule));
  EXPECT_FALSE(scrub_error_or_notice('E', error_body("card 4111 1111 1111 1111"), kNoMaskRule));
  EXPECT_FALSE(scrub_error_or_notice('N', "garbage", kNoMaskRule));  // not even read
  pgwire::NotificationResponse a;
  a.process_id = 1;
  a.channel = "c";
  a.payload = "4111 1111 1111 1111";
  std::string whole;
  pgwire::encode(a, whole);
  EXPECT_FALSE(scrub_notification(body_of(whole), kNoMaskRule));
  pgwire::ParameterStatus p;
  p.name = "application_name";
  p.value = "jane.doe@example.com";
  whole.clear();
  pgwire::encode(p, whole);
  EXPECT_FALSE(scrub_parameter_status(body_of(whole), kNoMaskRule));
  // Nor does a policy whose rules name columns only, for these.
  EXPECT_FALSE(scrub_parameter_status(body_of(whole), kRulesWithoutDetectors));
}

TEST(SideChannels, RulesThatCouldNotBeBuiltFailClosed) {
  const SideChannelRules rules = side_channel_rules(Result<std::shared_ptr<MaskHandle>>(Error{"no catalog"}), false);
  EXPECT_TRUE(rules.reads_masked);
  ASSERT_NE(rules.detectors, nullptr);
  EXPECT_EQ(*rules.detectors, mask::DetectorSet::all());
  const SideChannelRules none = side_channel_rules(Result<std::shared_ptr<MaskHandle>>(std::shared_ptr<MaskHandle>()), true);
  EXPECT_FALSE(none.active());
}

TEST(SideChannels, NoticesAreScrubbedLikeErrors) {
  pgwire::NoticeResponse n;
  n.fields.push_back({'S', "WARNING"});
  n.fields.push_back({'C', "01000"});
  n.fields.push_back({'M', "PID 820335340 is not a PostgreSQL backend process"});
  std::string whole;
  pgwire::encode(n, whole);
  auto out = scrub_error_or_notice('N', body_of(whole), kReadsMasked);
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0], 'N');
  EXPECT_EQ(out->find("820335340"), std::string::npos);
  EXPECT_NE(out->find("PID *** is not a PostgreSQL backend process"), std::string::npos);

  n.fields[2] = {'M', "customer ssn 123-45-6789"};
  whole.clear();
  pgwire::encode(n, whole);
  auto detected = scrub_error_or_notice('N', body_of(whole), kDetectorsOnly);
  ASSERT_TRUE(detected);
  EXPECT_EQ(detected->find("123-45-6789"), std::string::npos);
}

TEST(SideChannels, NotificationPayloadsAreScrubbed) {
  pgwire::NotificationResponse a;
  a.process_id = 42;
  a.channel = "c";
  a.payload = "{\"ssn\": \"123-45-6789\"}";
  std::string whole;
  pgwire::encode(a, whole);
  auto out = scrub_notification(body_of(whole), kDetectorsOnly);
  ASSERT_TRUE(out);
  ASSERT_FALSE(out->empty());
  EXPECT_EQ(out->find("123-45-6789"), std::string::npos);
  const std::string body = body_of(*out);
  auto decoded_n = pgwire::NotificationResponse::decode(body);
  ASSERT_TRUE(decoded_n);
  EXPECT_EQ(decoded_n->process_id, 42);
  EXPECT_EQ(decoded_n->channel, "c");

  a.payload = "order 42 shipped";
  whole.clear();
  pgwire::encode(a, whole);
  EXPECT_FALSE(scrub_notification(body_of(whole), kDetectorsOnly));
}

// A trigger can notify a masked table's rows, and another session's payload
// was never traced: with column rules in force, every detector runs on a
// payload, whatever the policy's own detect rules.
TEST(SideChannels, NotificationsMeetEveryDetectorWhileColumnsAreMasked) {
  auto model_of = [](policy::MaskRule rule) {
    return Result<std::shared_ptr<MaskHandle>>(std::make_shared<MaskHandle>(nullptr, model_with(std::move(rule))));
  };
  // The rules point into the handle's model: each handle outlives its rules.
  const auto column_handle = model_of(ssn_column_rule());
  const SideChannelRules columns = notification_rules(column_handle);
  ASSERT_TRUE(columns.active());
  EXPECT_FALSE(columns.reads_masked);
  EXPECT_TRUE(columns.detectors->contains(mask::Detector::us_ssn));
  EXPECT_TRUE(columns.detectors->contains(mask::Detector::credit_card));
  // Parameter reports stay with the policy's own detectors (none here).
  EXPECT_FALSE(side_channel_rules(column_handle, false).active());

  policy::MaskRule detect;
  detect.detect = {mask::Detector::email};
  const auto detect_handle = model_of(detect);
  const SideChannelRules detecting = notification_rules(detect_handle);
  EXPECT_TRUE(detecting.detectors->contains(mask::Detector::email));
  EXPECT_FALSE(detecting.detectors->contains(mask::Detector::us_ssn));
  EXPECT_FALSE(notification_rules(Result<std::shared_ptr<MaskHandle>>(std::shared_ptr<MaskHandle>())).active());
}

// A write through an admin's view of clean columns, a trigger or a cascade
// fails on the masked table under it, and PostgreSQL prints that table's
// row. The statement read nothing masked; the message's table field says
// where it was raised.
TEST(SideChannels, MessagesRaisedOnAMaskedTableKeepOnlyTheirWording) {
  const auto model = model_with(ssn_column_rule());
  ASSERT_TRUE(model);
  const SideChannelRules rules = side_channel_rules(*model, false);
  ASSERT_FALSE(rules.active());  // no detector, and the statement read nothing masked

  auto not_null_on = [](std::string_view schema, std::string_view table) {
    pgwire::ErrorResponse e;
    e.fields = {{'S', "ERROR"},
                {'V', "ERROR"},
                {'C', "23502"},
                {'M', "null value in column \"name\" of relation \"customers\" violates not-null constraint"},
                {'D', "Failing row contains (1, null, 123-45-6789)."},
                {'s', schema},
                {'t', table},
                {'c', "name"}};
    std::string out;
    pgwire::encode(e, out);
    return body_of(out);
  };
  const pgwire::ErrorResponse scrubbed = decoded(scrub_error_or_notice('E', not_null_on("public", "customers"), rules));
  EXPECT_EQ(scrubbed.detail().find("123-45-6789"), std::string_view::npos) << scrubbed.detail();
  EXPECT_EQ(scrubbed.detail().substr(0, 25), "Failing row contains ***.") << scrubbed.detail();
  EXPECT_EQ(scrubbed.sqlstate(), "23502");
  // Unqualified: the table field alone.
  EXPECT_TRUE(scrub_error_or_notice('E', not_null_on("", "customers"), rules));
  // Another table's message is left whole, as is every message under a
  // policy that masks no column.
  EXPECT_FALSE(scrub_error_or_notice('E', not_null_on("public", "orders"), rules));
  EXPECT_FALSE(scrub_error_or_notice('E', not_null_on("public", "customers"), kNoMaskRule));
}

// A trigger on an unmasked table can look a customer up and RAISE it: text
// built inside a function, which no lineage traces.
TEST(SideChannels, TextBuiltInsideAFunctionMeetsEveryDetectorWhileColumnsAreMasked) {
  const auto model = model_with(ssn_column_rule());
  ASSERT_TRUE(model);
  const SideChannelRules rules = side_channel_rules(*model, false);

  auto notice = [](std::string_view message, std::string_view context) {
    pgwire::NoticeResponse n;
    n.fields = {{'S', "NOTICE"}, {'V', "NOTICE"}, {'C', "00000"}, {'M', message}};
    if (!context.empty()) n.fields.push_back({'W', context});
    std::string out;
    pgwire::encode(n, out);
    return body_of(out);
  };
  const std::string raised = "region 1 changed; account manager ann@corp.example / 123-45-6789";
  for (std::string_view context : {"PL/pgSQL function public.zz_audit() line 1 at RAISE",
                                   "SQL function \"lookup\" statement 1", ""}) {
    auto out = scrub_error_or_notice('N', notice(raised, context), rules);
    ASSERT_TRUE(out) << context;
    EXPECT_EQ(out->find("123-45-6789"), std::string::npos) << *out;
    EXPECT_EQ(out->find("ann@corp.example"), std::string::npos) << *out;
    EXPECT_NE(out->find("region 1 changed; account manager "), std::string::npos) << *out;
  }
  // PostgreSQL's own notice, outside any function, is left whole; so is
  // everything under a policy that masks no column.
  EXPECT_FALSE(scrub_error_or_notice('N', notice("relation \"t\" already exists, skipping", ""), rules));
  EXPECT_FALSE(scrub_error_or_notice('N', notice(raised, "PL/pgSQL function f() line 1 at RAISE"), kNoMaskRule));
}

TEST(SideChannels, ParameterStatusValuesAreScrubbedAndUnreadableOnesDropped) {
  pgwire::ParameterStatus p;
  p.name = "application_name";
  p.value = "4111111111111111";
  std::string whole;
  pgwire::encode(p, whole);
  auto out = scrub_parameter_status(body_of(whole), kDetectorsOnly);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->find("4111111111111111"), std::string::npos);

  auto dropped = scrub_parameter_status(std::string_view("no terminator", 13), kDetectorsOnly);
  ASSERT_TRUE(dropped);
  EXPECT_TRUE(dropped->empty());
}

}  // namespace
}  // namespace pgw::engine
