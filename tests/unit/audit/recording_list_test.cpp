// What `sessions list` reads of a recording: the times it accepts, the
// summary of a file (header, decision counts, end), the filters, and the
// directory cache that reads a file again only when it changed.
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audit/recording_list.h"
#include "audit/recording_time.h"
#include "audit/recording_writer.h"
#include "recording_test_util.h"

namespace pgw::audit {
namespace {

using testing::new_signing_key;
using testing::TempDir;

TimePoint at(int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

TEST(RecordingTime, Rfc3339RoundTripsAndAcceptsOffsets) {
  const TimePoint t = at(1718100900) + std::chrono::microseconds(123456);
  EXPECT_EQ(format_utc(t), "2024-06-11T10:15:00.123456000Z");
  EXPECT_EQ(*parse_rfc3339(format_utc(t)), t);
  EXPECT_EQ(*parse_rfc3339("2024-06-11T10:15:00Z"), at(1718100900));
  EXPECT_EQ(*parse_rfc3339("2024-06-11T12:15:00+02:00"), at(1718100900));
  EXPECT_EQ(*parse_rfc3339("2024-06-11t08:15:00-02:00"), at(1718100900));
  EXPECT_EQ(*parse_rfc3339("2024-06-11 10:15:00.5z"), at(1718100900) + std::chrono::milliseconds(500));
  for (const char* bad : {"", "yesterday", "2024-06-11", "2024-06-11T10:15:00", "2024-13-11T10:15:00Z",
                          "2024-06-11T10:15:00Zjunk", "2999-01-01T00:00:00Z", "2024-06-11T10:15:00.Z", "2024-06-11T10:15:00+0200"}) {
    EXPECT_FALSE(parse_rfc3339(bad).ok()) << bad;
  }
}

TEST(RecordingTime, BoundsAreRfc3339OrAnAge) {
  const TimePoint now = at(1'000'000);
  EXPECT_EQ(*parse_time_bound("30m", now), now - std::chrono::minutes(30));
  EXPECT_EQ(*parse_time_bound("2h", now), now - std::chrono::hours(2));
  EXPECT_EQ(*parse_time_bound("7d", now), now - std::chrono::hours(24 * 7));
  EXPECT_EQ(*parse_time_bound("1w", now), now - std::chrono::hours(24 * 7));
  EXPECT_EQ(*parse_time_bound("0s", now), now);
  EXPECT_EQ(*parse_time_bound("1970-01-12T13:46:40Z", now), now);
  for (const char* bad : {"h", "5", "-5m", "5y", "1.5h", "99999999999h"}) {
    EXPECT_FALSE(parse_time_bound(bad, now).ok()) << bad;
  }
}

TEST(RecordingFilter, KeepsSessionsOpenBetweenSinceAndUntil) {
  RecordingSummary s;
  s.identity = "agent";
  s.upstream = "main";
  s.start = at(100);
  s.end = at(200);
  RecordingFilter f;
  EXPECT_TRUE(f.matches(s));
  f.identity = "other";
  EXPECT_FALSE(f.matches(s));
  f = {};
  f.upstream = "main";
  EXPECT_TRUE(f.matches(s));
  f = {};
  f.since = at(150);
  EXPECT_TRUE(f.matches(s));  // still open at 150
  f.since = at(201);
  EXPECT_FALSE(f.matches(s));
  s.live = true;
  s.end.reset();
  EXPECT_TRUE(f.matches(s));  // a live session is open now
  f = {};
  f.until = at(99);
  EXPECT_FALSE(f.matches(s));
  f.until = at(100);
  EXPECT_TRUE(f.matches(s));
}

std::string write_session(const std::string& dir, const std::shared_ptr<const SigningKey>& key, const std::string& id,
                          const std::vector<nlohmann::json>& events,
                          std::unique_ptr<RecordingWriter>* keep_open = nullptr) {
  nlohmann::json header = {{"identity", {{"name", "agent"}}}, {"upstream", "main"}, {"database", "app"},
                           {"user", "alice"},                 {"node", "n1"}};
  auto w = RecordingWriter::create(dir, id, header, key);
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error());
  uint64_t ns = 1;
  for (const auto& e : events) EXPECT_TRUE((*w)->append(RecordType::event, ns++, e.dump()).ok());
  EXPECT_TRUE((*w)->append(RecordType::client_message, ns++, std::string("Q\0\0\0\x0dSELECT 1\0", 14)).ok());
  const std::string path = (*w)->path();
  if (keep_open != nullptr) {
    // A live one: the caller holds the writer, so the file stays open and locked.
    EXPECT_TRUE((*w)->flush().ok());
    *keep_open = std::move(*w);
  } else {
    EXPECT_TRUE((*w)->close().ok());
  }
  return path;
}

nlohmann::json decision(const char* d, const char* type) {
  return {{"event", "decision"}, {"decision", d}, {"message_type", type}, {"classes", "select"}};
}

TEST(RecordingSummary, CountsDecisionsAsTheEngineDoesAndReadsTheEnd) {
  TempDir dir;
  auto key = new_signing_key();
  const std::string path = write_session(
      dir.path, key, "n1-abcdef-1",
      {decision("allow", "query"), decision("allow", "parse"), decision("allow", "bind"), decision("deny", "query"),
       decision("deny", "parse"), decision("approve", "query"),
       {{"event", "session_end"}, {"reason", "client closed"}, {"end_time", "2030-01-01T00:00:00.000000000Z"}}});
  const PublicKey pub = key->public_key();
  const RecordingSummary s = summarize_recording(path, &pub);
  EXPECT_EQ(s.problem, "");
  EXPECT_EQ(s.id, "n1-abcdef-1");
  EXPECT_EQ(s.node, "n1");
  EXPECT_EQ(s.identity, "agent");
  EXPECT_EQ(s.upstream, "main");
  EXPECT_EQ(s.database, "app");
  EXPECT_EQ(s.user, "alice");
  EXPECT_FALSE(s.live);
  EXPECT_EQ(s.statements.allowed, 2u);  // the allowed Parse is not a statement of its own
  EXPECT_EQ(s.statements.denied, 2u);
  EXPECT_EQ(s.statements.held, 1u);
  ASSERT_TRUE(s.end.has_value());
  EXPECT_EQ(format_utc(*s.end), "2030-01-01T00:00:00.000000000Z");
  const nlohmann::json j = to_json(s);
  EXPECT_EQ(j["statements"], (nlohmann::json{{"allowed", 2}, {"denied", 2}, {"held", 1}}));
  EXPECT_FALSE(j.contains("problem"));
  EXPECT_EQ(j["file"], std::filesystem::path(path).filename().string());
}

TEST(RecordingSummary, ALiveFileIsLiveAndAnEditedOneSaysWhy) {
  TempDir dir;
  auto key = new_signing_key();
  const PublicKey pub = key->public_key();
  std::unique_ptr<RecordingWriter> writer;
  const std::string live = write_session(dir.path, key, "n1-abcdef-2", {decision("allow", "query")}, &writer);
  const RecordingSummary l = summarize_recording(live, &pub);
  EXPECT_TRUE(l.live);
  EXPECT_FALSE(l.end.has_value());
  EXPECT_EQ(l.problem, "");

  const std::string edited = write_session(dir.path, key, "n1-abcdef-3", {decision("allow", "query")});
  std::string bytes = testing::read_file(edited);
  bytes[bytes.size() - 100] ^= 1;
  testing::write_file(edited, bytes);
  const RecordingSummary e = summarize_recording(edited, &pub);
  EXPECT_NE(e.problem, "");
  EXPECT_EQ(e.id, "n1-abcdef-3");  // the header still verified
  EXPECT_TRUE(to_json(e).contains("problem"));
}

TEST(RecordingDirectory, ListsNewestFirstAndRereadsOnlyWhatChanged) {
  TempDir dir;
  auto key = new_signing_key();
  const std::string a = write_session(dir.path, key, "n1-abcdef-1", {decision("allow", "query")});
  const std::string b = write_session(dir.path, key, "n1-abcdef-2", {decision("deny", "query")});
  testing::write_file(dir.path + "/notes.txt", "not a recording");
  // A symlink planted in the directory is not followed (nor listed twice).
  std::filesystem::create_symlink("/etc/passwd", dir.path + "/planted.pgwrec");
  std::filesystem::create_symlink(b, dir.path + "/again.pgwrec");
  RecordingDirectory listing(dir.path, key->public_key());
  auto first = listing.list();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].id, "n1-abcdef-2");
  EXPECT_EQ((*first)[1].id, "n1-abcdef-1");
  // Replaced by garbage of another size: read again, and it says so.
  testing::write_file(a, "garbage");
  auto second = listing.list();
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 2u);
  const auto& changed = (*second)[0].file == std::filesystem::path(a).filename().string() ? (*second)[0] : (*second)[1];
  EXPECT_NE(changed.problem, "");
  std::filesystem::remove(b);
  auto third = listing.list();
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->size(), 1u);
  EXPECT_FALSE(RecordingDirectory(dir.path + "/missing", std::nullopt).list().ok());
}

}  // namespace
}  // namespace pgw::audit
