// Session transcripts: recordings written with RecordingWriter, holding the
// messages a real session exchanges (simple and extended protocol, a
// prepared statement executed without a Describe, a binary result, COPY, an
// error, pgwarden's events), read back as entries in order; garbage in a
// record becomes an `unreadable` entry, never a crash; a live file is
// followed with RecordingReader::resume().
#include <array>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "audit/recording_files.h"
#include "audit/recording_reader.h"
#include "audit/recording_time.h"
#include "audit/recording_writer.h"
#include "audit/session_transcript.h"
#include "pgwire/backend_messages.h"
#include "pgwire/copy_messages.h"
#include "pgwire/data_row.h"
#include "pgwire/empty_message.h"
#include "pgwire/error_response.h"
#include "pgwire/frontend_messages.h"
#include "pgwire/row_description.h"
#include "recording_test_util.h"

namespace pgw::audit {
namespace {

using nlohmann::json;
using testing::new_signing_key;
using testing::TempDir;

template <typename M>
std::string wire(const M& m) {
  std::string out;
  pgwire::encode(m, out);
  return out;
}

std::string row_description(std::vector<std::pair<std::string, uint32_t>> columns, int16_t format = 0) {
  std::vector<pgwire::FieldDescription> fields;
  for (const auto& [name, type] : columns) {
    pgwire::FieldDescription f;
    f.name = name;
    f.type = type;
    f.format = format;
    fields.push_back(f);
  }
  std::string out;
  pgwire::encode_row_description(fields, out);
  return out;
}

std::string data_row(std::vector<std::optional<std::string>> values) {
  std::string out;
  pgwire::DataRowWriter w(out);
  for (const auto& v : values) v ? w.add(*v) : w.add_null();
  w.finish();
  return out;
}

std::string complete(std::string_view tag) { return wire(pgwire::CommandComplete{tag}); }
std::string ready(char status = 'I') { return wire(pgwire::ReadyForQuery{status}); }

struct Recording {
  TempDir dir;
  std::unique_ptr<RecordingWriter> writer;
  uint64_t ns = 1'000'000'000;

  Recording() {
    json header = {{"identity", {{"name", "reports"}, {"uid", 1000}, {"pid", 42}, {"comm", "psql"}}},
                   {"upstream", "main"},
                   {"database", "app"},
                   {"user", "app"}};
    auto w = RecordingWriter::create(dir.path, "s-1", header, new_signing_key());
    if (!w) throw std::runtime_error(w.error());
    writer = std::move(*w);
    // The header's own timestamp is taken by the writer: ours follow it.
    ns = 0;
  }
  void put(RecordType type, const std::string& bytes, uint64_t step_ms = 1) {
    ns += step_ms * 1'000'000;
    ASSERT_TRUE(writer->append(type, base() + ns, bytes).ok());
  }
  void client(const std::string& bytes, uint64_t step_ms = 1) { put(RecordType::client_message, bytes, step_ms); }
  void server(const std::string& bytes, uint64_t step_ms = 1) { put(RecordType::server_message, bytes, step_ms); }
  void event(const json& e) { put(RecordType::event, e.dump()); }
  // The header record's timestamp: the writer's monotonic clock at create.
  uint64_t base() {
    if (!base_) {
      auto r = RecordingReader::open(writer->path(), nullptr);
      Record rec;
      (*r)->next(rec);
      base_ = rec.monotonic_ns;
    }
    return *base_;
  }
  std::optional<uint64_t> base_;

  std::vector<json> entries(bool close = true, TranscriptOptions options = {}) {
    if (close) {
      EXPECT_TRUE(writer->close().ok());
    } else {
      EXPECT_TRUE(writer->flush().ok());
    }
    std::vector<json> out;
    auto read = read_transcript(writer->path(), nullptr, options, [&out](json e) { out.push_back(std::move(e)); });
    EXPECT_TRUE(read.ok());
    if (read) {
      EXPECT_EQ(read->report.ok, close) << read->report.problem;
    }
    return out;
  }
};

std::vector<std::string> types(const std::vector<json>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e["type"].get<std::string>());
  return out;
}

TEST(SessionTranscript, SimpleQueryWithResultErrorAndEvents) {
  Recording r;
  r.client(wire(pgwire::Query{"SELECT id, email FROM customers"}));
  r.event({{"event", "decision"}, {"decision", "allow"}, {"message_type", "query"}});
  r.server(row_description({{"id", 23}, {"email", 25}}), 2);
  r.server(data_row({"1", "a***@example.com"}));
  r.server(data_row({"2", std::nullopt}));
  r.server(complete("SELECT 2"));
  r.server(ready(), 3);
  r.client(wire(pgwire::Query{"DELETE FROM customers"}), 10);
  r.event({{"event", "decision"}, {"decision", "deny"}, {"rule", "no-deletes"}, {"message", "denied"}});
  std::string error;
  pgwire::build_error_response({.sqlstate = "42501", .message = "pgwarden: denied by rule no-deletes",
                                .detail = "the detail"},
                               error);
  r.server(error);
  r.server(ready());
  r.event({{"event", "session_end"}, {"reason", "client closed"}});
  const auto e = r.entries();
  ASSERT_EQ(types(e), (std::vector<std::string>{"statement", "event", "result", "complete", "statement", "event",
                                                "error", "event"}));
  EXPECT_EQ(e[0]["sql"], "SELECT id, email FROM customers");
  EXPECT_EQ(e[0]["protocol"], "simple");
  EXPECT_EQ(e[0]["n"], 1);
  EXPECT_DOUBLE_EQ(e[0]["elapsed_ms"].get<double>(), 9.0);  // sent -> ReadyForQuery
  EXPECT_DOUBLE_EQ(e[0]["offset_ms"].get<double>(), 1.0);
  EXPECT_EQ(e[0]["session"], "s-1");
  EXPECT_EQ(e[0]["upstream"], "main");
  EXPECT_EQ(e[0]["identity"]["name"], "reports");
  EXPECT_TRUE(parse_rfc3339(e[0]["time"].get<std::string>()).ok());
  EXPECT_EQ(e[2]["columns"][0]["name"], "id");
  EXPECT_EQ(e[2]["rows"], json::parse(R"([["1", "a***@example.com"], ["2", null]])"));
  EXPECT_EQ(e[2]["row_count"], 2);
  EXPECT_EQ(e[2]["statement_n"], 1);
  EXPECT_EQ(e[3]["tag"], "SELECT 2");
  EXPECT_EQ(e[4]["sql"], "DELETE FROM customers");
  EXPECT_EQ(e[5]["decision"], "deny");
  EXPECT_EQ(e[5]["rule"], "no-deletes");
  EXPECT_EQ(e[6]["sqlstate"], "42501");
  EXPECT_EQ(e[6]["severity"], "ERROR");
  EXPECT_EQ(e[6]["detail"], "the detail");
  EXPECT_EQ(e[6]["statement_n"], 2);
  EXPECT_EQ(e[7]["event"], "session_end");
}

TEST(SessionTranscript, ExtendedProtocolPreparedOnceExecutedTwiceWithBinaryResult) {
  Recording r;
  // Prepare and describe, as pgbench -M prepared does once...
  const std::string int4 = pgwire::OidArray::pack({23});
  r.client(wire(pgwire::Parse{"p1", "SELECT abalance, aid FROM accounts WHERE aid = $1", pgwire::OidArray(int4)}));
  r.client(wire(pgwire::Describe{pgwire::kTargetStatement, "p1"}));
  r.client(wire(pgwire::Sync{}));
  r.server(wire(pgwire::ParseComplete{}));
  r.server(wire(pgwire::ParameterDescription{pgwire::OidArray(int4)}));
  r.server(row_description({{"abalance", 23}, {"aid", 20}}));
  r.server(ready());
  // ... then Bind (text parameter, binary results) / Execute / Sync with no Describe.
  for (const char* aid : {"7", "8"}) {
    const std::array<pgwire::Value, 1> values{std::string_view(aid)};
    const std::string raw = pgwire::ValueList::pack(values);
    const std::string binary = pgwire::Int16Array::pack({1});
    pgwire::Bind bind;
    bind.statement = "p1";
    bind.parameters = pgwire::ValueList(1, raw);
    bind.result_formats = pgwire::Int16Array(binary);
    r.client(wire(bind), 5);
    r.client(wire(pgwire::Execute{"", 0}));
    r.client(wire(pgwire::Sync{}));
    r.server(wire(pgwire::BindComplete{}));
    r.server(data_row({std::string("\xff\xff\xff\xfe", 4), std::string("\0\0\0\0\0\0\0\x07", 8)}));
    r.server(complete("SELECT 1"));
    r.server(ready(), 2);
  }
  const auto e = r.entries();
  ASSERT_EQ(types(e), (std::vector<std::string>{"statement", "result", "complete", "statement", "result", "complete"}));
  EXPECT_EQ(e[0]["protocol"], "extended");
  EXPECT_EQ(e[0]["sql"], "SELECT abalance, aid FROM accounts WHERE aid = $1");
  EXPECT_EQ(e[0]["parameters"], json::array({"7"}));
  EXPECT_EQ(e[0]["prepared_statement"], "p1");
  EXPECT_DOUBLE_EQ(e[0]["elapsed_ms"].get<double>(), 4.0);  // Execute -> CommandComplete
  EXPECT_EQ(e[1]["columns"][1]["name"], "aid");
  EXPECT_EQ(e[1]["columns"][1]["format"], 1);
  EXPECT_EQ(e[1]["rows"], json::parse(R"([["-2", "7"]])"));  // binary int4 and int8 in their text form
  EXPECT_EQ(e[3]["parameters"], json::array({"8"}));
  EXPECT_EQ(e[3]["n"], 2);
}

TEST(SessionTranscript, ExtendedErrorAnswersEveryExecuteBeforeTheSync) {
  Recording r;
  const std::string no_types;
  r.client(wire(pgwire::Parse{"", "DROP TABLE t", pgwire::OidArray(no_types)}));
  r.client(wire(pgwire::Bind{}));
  r.client(wire(pgwire::Describe{pgwire::kTargetPortal, ""}));
  r.client(wire(pgwire::Execute{"", 0}));
  r.client(wire(pgwire::Sync{}));
  r.event({{"event", "decision"}, {"decision", "approve"}, {"rule", "ddl"}});
  r.event({{"event", "approval_requested"}, {"id", "a-1"}, {"rule", "ddl"}});
  r.event({{"event", "approval_denied"}, {"id", "a-1"}, {"by", "alice"}, {"reason", "no"}});
  std::string error;
  pgwire::build_error_response({.sqlstate = "42501", .message = "pgwarden: approval a-1 denied by alice: no"}, error);
  r.server(error, 7);
  r.server(ready());
  // Unbound sessions go on: the next statement is read as usual.
  r.client(wire(pgwire::Query{""}));
  r.server(wire(pgwire::EmptyQueryResponse{}));
  r.server(ready());
  const auto e = r.entries();
  ASSERT_EQ(types(e), (std::vector<std::string>{"statement", "event", "event", "event", "error", "statement",
                                                "complete"}));
  EXPECT_EQ(e[0]["sql"], "DROP TABLE t");
  EXPECT_EQ(e[0]["parameters"], json::array());
  EXPECT_DOUBLE_EQ(e[0]["elapsed_ms"].get<double>(), 11.0);  // Execute -> the error
  EXPECT_EQ(e[3]["by"], "alice");
  EXPECT_EQ(e[4]["statement_n"], 1);
  EXPECT_EQ(e[6]["empty_query"], true);
}

TEST(SessionTranscript, CopyOutCountsRowsAndBytes) {
  Recording r;
  r.client(wire(pgwire::Query{"COPY t TO STDOUT"}));
  pgwire::CopyOutResponse out;
  r.server(wire(out));
  r.server(wire(pgwire::CopyData{"1\tone\n"}));
  r.server(wire(pgwire::CopyData{"2\ttwo\n"}));
  r.server(wire(pgwire::CopyDone{}));
  r.server(complete("COPY 2"));
  r.server(ready());
  const auto e = r.entries();
  ASSERT_EQ(types(e), (std::vector<std::string>{"statement", "copy", "complete"}));
  EXPECT_EQ(e[1]["direction"], "out");
  EXPECT_EQ(e[1]["rows"], 2);
  EXPECT_EQ(e[1]["bytes"], 12);
}

TEST(SessionTranscript, GarbageBecomesUnreadableEntriesNeverACrash) {
  Recording r;
  r.client(wire(pgwire::Query{"SELECT 1"}));
  r.server(std::string("T\0\0\0\x08\0\x05", 7));   // RowDescription claiming 5 fields in none
  r.server(std::string("D\0\0\0\x0a\0\x01\x7f\xff\xff\xff", 11));  // a column longer than the row
  r.server("Z");                                      // no length
  r.server(std::string("Z\0\0\0\x04", 5));            // ReadyForQuery without its status
  r.server(std::string("E\0\0\0\x05X", 6));           // fields not ended
  r.client(std::string("B\0\0\0\x04", 5));            // Bind with no body
  r.client(std::string("\0", 1));
  r.event(json::array({1, 2}));
  r.put(RecordType::event, "{not json");
  r.server(std::string("Q\xff\xfe\0\0\0", 6));
  r.server(complete("SELECT 1"));
  r.server(ready());
  const auto e = r.entries();
  size_t unreadable = 0;
  for (const auto& x : e) unreadable += x["type"] == "unreadable" || x.value("event", "") == "unreadable";
  EXPECT_GE(unreadable, 7u);
  EXPECT_EQ(e.front()["type"], "statement");
  EXPECT_EQ(e.back()["type"], "complete");
  EXPECT_TRUE(e.front().contains("elapsed_ms"));
  for (const auto& x : e) EXPECT_FALSE(entry_text(x).empty());
}

TEST(SessionTranscript, InvalidUtf8InValuesIsReplacedInTheText) {
  Recording r;
  r.client(wire(pgwire::Query{"SELECT '\xff'"}));
  r.server(row_description({{"?column?", 25}}));
  r.server(data_row({std::string("\xc3\x28", 2)}));
  r.server(complete("SELECT 1"));
  r.server(ready());
  const auto e = r.entries();
  ASSERT_EQ(e.size(), 3u);
  EXPECT_NE(entry_text(e[1]).find("\xef\xbf\xbd"), std::string::npos);  // U+FFFD
}

TEST(SessionTranscript, MaxRowsKeepsTheFirstAndCountsTheRest) {
  Recording r;
  r.client(wire(pgwire::Query{"SELECT g FROM generate_series(1, 5) g"}));
  r.server(row_description({{"g", 23}}));
  for (int i = 1; i <= 5; ++i) r.server(data_row({std::to_string(i)}));
  r.server(complete("SELECT 5"));
  r.server(ready());
  TranscriptOptions options;
  options.max_rows = 2;
  const auto e = r.entries(true, options);
  ASSERT_EQ(e.size(), 3u);
  EXPECT_EQ(e[1]["rows"].size(), 2u);
  EXPECT_EQ(e[1]["row_count"], 5);
  EXPECT_EQ(e[1]["rows_omitted"], 3);
}

TEST(RecordingReaderResume, FollowsALiveFileUntilItsCloseBlock) {
  Recording r;
  r.client(wire(pgwire::Query{"SELECT 1"}));
  ASSERT_TRUE(r.writer->flush().ok());
  auto reader = RecordingReader::open(r.writer->path(), nullptr);
  ASSERT_TRUE(reader.ok());
  Record rec;
  int n = 0;
  while ((*reader)->next(rec)) ++n;
  EXPECT_EQ(n, 2);
  EXPECT_TRUE((*reader)->report().truncated);
  EXPECT_FALSE((*reader)->resume());  // nothing new yet
  r.server(ready());
  ASSERT_TRUE(r.writer->flush().ok());
  ASSERT_TRUE((*reader)->resume());
  ASSERT_TRUE((*reader)->next(rec));
  EXPECT_EQ(rec.type, RecordType::server_message);
  EXPECT_FALSE((*reader)->next(rec));
  ASSERT_TRUE(r.writer->close().ok());
  ASSERT_TRUE((*reader)->resume());
  EXPECT_FALSE((*reader)->next(rec));
  EXPECT_TRUE((*reader)->report().ok);
  EXPECT_TRUE((*reader)->report().closed);
  EXPECT_FALSE((*reader)->resume());  // closed: nothing follows
}

TEST(RecordingReaderResume, ABlockWrittenHalfWayIsReadOnceWhole) {
  Recording r;
  r.client(wire(pgwire::Query{"SELECT 1"}));
  ASSERT_TRUE(r.writer->flush().ok());
  const std::string path = r.writer->path();
  const std::string whole = testing::read_file(path);
  r.server(ready());
  ASSERT_TRUE(r.writer->close().ok());
  const std::string closed = testing::read_file(path);
  // A reader that sees the second block half written, then whole.
  const std::string copy = r.dir.path + "/copy.pgwrec";
  const size_t half = whole.size() + (closed.size() - whole.size()) / 2;
  testing::write_file(copy, closed.substr(0, half));
  auto reader = RecordingReader::open(copy, nullptr);
  Record rec;
  int n = 0;
  while ((*reader)->next(rec)) ++n;
  EXPECT_EQ(n, 2);
  EXPECT_TRUE((*reader)->report().truncated);
  testing::write_file(copy, closed);
  ASSERT_TRUE((*reader)->resume());
  while ((*reader)->next(rec)) ++n;
  EXPECT_EQ(n, 3);
  EXPECT_TRUE((*reader)->report().ok) << (*reader)->report().problem;
}

TEST(RecordingFiles, FindsBySessionIdWholeNeverByPrefix) {
  TempDir dir;
  auto key = new_signing_key();
  auto a = RecordingWriter::create(dir.path, "node-a-1", json::object(), key);
  auto b = RecordingWriter::create(dir.path, "a-1", json::object(), key);
  ASSERT_TRUE(a.ok() && b.ok());
  auto found = find_recording(dir.path, "a-1");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, (*b)->path());
  EXPECT_FALSE(find_recording(dir.path, "1").ok());
  auto name = parse_recording_name((*a)->path());
  ASSERT_TRUE(name.has_value());
  EXPECT_EQ(name->session_id, "node-a-1");
}

TEST(RecordingTime, ParsesWhatItFormats) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::nanoseconds(1733523077123456789LL));
  EXPECT_EQ(*parse_rfc3339(format_utc(t)), t);
  EXPECT_EQ(*parse_utc_compact(format_utc_compact(t)), t);
  EXPECT_EQ(format_utc(*parse_rfc3339("2024-12-06T23:11:17+01:00")), "2024-12-06T22:11:17.000000000Z");
  EXPECT_FALSE(parse_rfc3339("2024-12-06").ok());
  EXPECT_FALSE(parse_rfc3339("2024-13-06T00:00:00Z").ok());
  EXPECT_EQ(*parse_time_bound("2h", t), t - std::chrono::hours(2));
}

}  // namespace
}  // namespace pgw::audit
