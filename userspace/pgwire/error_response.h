// ErrorResponse ('E') and NoticeResponse ('N'): a list of (code byte,
// cstring) fields ended by a zero byte. The engine builds its own errors
// (SQLSTATE + "pgwarden: ..." message) and reads SQLSTATE and message from
// upstream errors, e.g. to map an upstream authentication failure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pgw::pgwire {

// Field codes (PostgreSQL "Error and Notice Message Fields").
namespace error_field {
inline constexpr char kSeverity = 'S';               // localized
inline constexpr char kSeverityNonLocalized = 'V';
inline constexpr char kSqlState = 'C';
inline constexpr char kMessage = 'M';
inline constexpr char kDetail = 'D';
inline constexpr char kHint = 'H';
inline constexpr char kPosition = 'P';
inline constexpr char kInternalPosition = 'p';
inline constexpr char kInternalQuery = 'q';
inline constexpr char kWhere = 'W';
inline constexpr char kSchema = 's';
inline constexpr char kTable = 't';
inline constexpr char kColumn = 'c';
inline constexpr char kDataType = 'd';
inline constexpr char kConstraint = 'n';
inline constexpr char kFile = 'F';
inline constexpr char kLine = 'L';
inline constexpr char kRoutine = 'R';
}  // namespace error_field

struct ErrorField {
  char code = 0;
  std::string_view value{};
  bool operator==(const ErrorField&) const = default;
};

// The body shared by both messages. Fields keep their wire order so a
// decoded message re-encodes byte for byte.
struct ErrorNoticeFields {
  std::vector<ErrorField> fields{};

  // The first field with `code`, or empty.
  std::string_view find(char code) const;
  std::string_view severity() const;  // V if present (never translated), else S
  std::string_view sqlstate() const { return find(error_field::kSqlState); }
  std::string_view message() const { return find(error_field::kMessage); }
  std::string_view detail() const { return find(error_field::kDetail); }
  std::string_view hint() const { return find(error_field::kHint); }

  bool operator==(const ErrorNoticeFields&) const = default;
};

struct ErrorResponse : ErrorNoticeFields {
  static constexpr char kType = 'E';
  static Result<ErrorResponse> decode(std::string_view body);
  bool operator==(const ErrorResponse&) const = default;
};
void encode(const ErrorResponse& msg, std::string& out);

struct NoticeResponse : ErrorNoticeFields {
  static constexpr char kType = 'N';
  static Result<NoticeResponse> decode(std::string_view body);
  bool operator==(const NoticeResponse&) const = default;
};
void encode(const NoticeResponse& msg, std::string& out);

// What the engine needs to originate an error or notice, e.g.
//   build_error_response({.severity = "FATAL", .sqlstate = "28P01", .message = "pgwarden: ..."}, out);
// Every member has a default initialiser so designated initialisers may
// leave any of them out without tripping -Wmissing-field-initializers.
struct ErrorSpec {
  std::string_view severity = "ERROR";  // ERROR, FATAL, PANIC / WARNING, NOTICE, INFO, LOG, DEBUG
  std::string_view sqlstate{};          // five characters, e.g. "28P01"
  std::string_view message{};
  std::string_view detail{};  // omitted when empty
  std::string_view hint{};    // omitted when empty
};

// Appends an ErrorResponse / NoticeResponse with fields S, V, C, M and, when
// set, D and H. NUL bytes in the texts are dropped so a message can never
// corrupt the framing.
void build_error_response(const ErrorSpec& spec, std::string& out);
void build_notice_response(const ErrorSpec& spec, std::string& out);

}  // namespace pgw::pgwire
