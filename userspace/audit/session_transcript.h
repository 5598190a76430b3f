// A session's transcript: the verified records of a recording
// (recording_reader.h) turned into what happened, in order, as JSON objects
// ("entries") that `pgwarden sessions replay` prints as a table, `sessions
// export` writes as JSON lines and the admin API serves:
//
//   statement  what the client ran: a simple Query's text, an extended
//              Execute's SQL (from its Parse) with the Bind's parameters as
//              text, a FunctionCall; `elapsed_ms` from it to its answer
//   result     columns (from RowDescription) and rows as the client received
//              them (after masking), as text
//   complete   the command tag
//   copy       a COPY's direction, rows (CopyData messages) and bytes
//   error, notice   severity, SQLSTATE, message, detail, hint
//   notification    a NOTIFY's channel and payload
//   event      what pgwarden decided or did (decision, approval_*, session_end)
//
// A statement has a number `n` (from 1); what answers it carries it as
// `statement_n`. Every entry has `type`, `offset_ms` (from the session's start, the header
// record) and `time` (UTC). The transcript reads the wire protocol with
// pgwire's decoders; a message that does not decode becomes an `unreadable`
// entry and the transcript goes on: it never throws on a record's content.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/recording_reader.h"

namespace pgw::audit {

struct TranscriptOptions {
  // Rows kept per result (0: all); the rest are counted in `rows_omitted`.
  uint64_t max_rows = 0;
  // Every entry also carries the session's `session`, `identity`,
  // `upstream`, `database` and `user` (from the header): lines that stand
  // alone, as export writes them.
  bool with_session = true;
};

class SessionTranscript {
 public:
  using Sink = std::function<void(nlohmann::json entry)>;
  // Entries go to `sink` in order. A statement's entries are held until it
  // is answered (so its `elapsed_ms` is known), or until flush().
  SessionTranscript(TranscriptOptions options, Sink sink);

  // Feed the reader's records in order, the header first.
  void add(const Record& record);
  // Hands out what is held (a live session's unanswered statement, without
  // its elapsed time yet); call at the end of the records.
  void flush();

 private:
  struct Column {
    std::string name;
    uint32_t type = 0;
    int16_t format = 0;
  };
  struct Prepared {
    std::string sql;
    std::vector<uint32_t> parameter_types;
    std::optional<std::vector<Column>> columns;  // from a Describe of the statement
  };
  struct Portal {
    std::string statement;
    std::string sql;
    nlohmann::json parameters = nlohmann::json::array();
    std::vector<int16_t> result_formats;
    std::optional<std::vector<Column>> columns;
  };
  // A client message of the extended protocol awaiting its answer.
  struct Awaiting {
    char type = 0;           // P B D E C S
    char target = 0;         // Describe/Close: 'S' or 'P'
    std::string name;        // statement or portal
    size_t statement = SIZE_MAX;  // Execute: its statement entry in held_
  };

  void client(char type, std::string_view body, uint64_t ns);
  void server(char type, std::string_view body, uint64_t ns);
  void event(std::string_view json, uint64_t ns);

  nlohmann::json entry(const char* type, uint64_t ns) const;
  void emit(nlohmann::json e);
  size_t open_statement(nlohmann::json e, uint64_t ns);
  void answer_statement(size_t& held_index, uint64_t ns);
  void start_result(std::vector<Column> columns, uint64_t ns);
  void end_result();
  void end_copy();
  // One CopyData, either direction, into the open COPY entry (if any).
  void count_copy_data(size_t bytes);
  std::vector<Column> columns_with_formats(const std::vector<Column>& columns,
                                           const std::vector<int16_t>& formats) const;
  void pop_awaiting(char type);
  void unreadable(const char* direction, char type, const std::string& why, uint64_t ns);

  TranscriptOptions options_;
  Sink sink_;
  nlohmann::json session_ = nlohmann::json::object();
  uint64_t start_ns_ = 0;
  std::optional<std::chrono::system_clock::time_point> start_time_;

  std::vector<nlohmann::json> held_;  // entries waiting for statements to be answered
  size_t open_statements_ = 0;
  uint64_t statements_ = 0;
  size_t simple_statement_ = SIZE_MAX;  // the Query or FunctionCall being answered, in held_
  uint64_t simple_started_ns_ = 0;
  std::map<size_t, uint64_t> started_ns_;  // held_ index of an open statement -> when it was sent

  std::map<std::string, Prepared> prepared_;
  std::map<std::string, Portal> portals_;
  std::deque<Awaiting> awaiting_;

  std::optional<nlohmann::json> result_;
  std::vector<Column> result_columns_;
  std::optional<nlohmann::json> copy_;
};

// An entry as one JSON text; invalid UTF-8 in recorded values is replaced
// (U+FFFD) rather than refused.
std::string entry_text(const nlohmann::json& entry, int indent = -1);

}  // namespace pgw::audit
