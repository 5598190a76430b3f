// Messages the server sends after the startup phase. Elsewhere: the
// Authentication* family (auth.h), ErrorResponse/NoticeResponse
// (error_response.h), DataRow (data_row.h), RowDescription
// (row_description.h), COPY (copy_messages.h) and the empty messages such as
// ParseComplete or NoData (empty_message.h).
//
// Every message is a struct with
//   static constexpr char kType;                       the type byte
//   static Result<T> decode(std::string_view body);    body = after the length word
// and a free `void encode(const T&, std::string& out)` that appends the whole
// message (type byte and length included). Decoders are strict: the body must
// be consumed exactly, strings terminated, counts consistent. Views point
// into the caller's buffer, which must outlive the decoded struct.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "pgwire/wire_arrays.h"

namespace pgw::pgwire {

// 'K': the cancel key the client must present in a CancelRequest.
struct BackendKeyData {
  static constexpr char kType = 'K';
  int32_t process_id = 0;
  std::string_view secret_key{};  // 4 bytes in protocol 3.0, 4..256 since 3.2

  static Result<BackendKeyData> decode(std::string_view body);
  bool operator==(const BackendKeyData&) const = default;
};
void encode(const BackendKeyData& msg, std::string& out);

// 'S': a run-time parameter's current value; may arrive at any time.
struct ParameterStatus {
  static constexpr char kType = 'S';
  std::string_view name{};
  std::string_view value{};

  static Result<ParameterStatus> decode(std::string_view body);
  bool operator==(const ParameterStatus&) const = default;
};
void encode(const ParameterStatus& msg, std::string& out);

// 'Z': the transaction status: 'I' idle, 'T' in a transaction block, 'E' in
// a failed transaction block.
struct ReadyForQuery {
  static constexpr char kType = 'Z';
  static constexpr char kIdle = 'I';
  static constexpr char kInTransaction = 'T';
  static constexpr char kFailedTransaction = 'E';
  char status = kIdle;

  static Result<ReadyForQuery> decode(std::string_view body);
  bool operator==(const ReadyForQuery&) const = default;
};
void encode(const ReadyForQuery& msg, std::string& out);

// 'v': the server supports an older minor version than requested and/or did
// not recognise some "_pq_." protocol options.
struct NegotiateProtocolVersion {
  static constexpr char kType = 'v';
  int32_t newest_version = 0;  // full version code, e.g. 196608 for 3.0
  std::vector<std::string_view> unrecognized_options{};

  static Result<NegotiateProtocolVersion> decode(std::string_view body);
  bool operator==(const NegotiateProtocolVersion&) const = default;
};
void encode(const NegotiateProtocolVersion& msg, std::string& out);

// 'C' from the server: a statement finished; the tag says which and how
// many rows ("INSERT 0 1", "SELECT 5", "BEGIN").
struct CommandComplete {
  static constexpr char kType = 'C';
  std::string_view tag{};

  static Result<CommandComplete> decode(std::string_view body);
  bool operator==(const CommandComplete&) const = default;
};
void encode(const CommandComplete& msg, std::string& out);

// 'V': the result of a FunctionCall (std::nullopt = NULL).
struct FunctionCallResponse {
  static constexpr char kType = 'V';
  Value result{};

  static Result<FunctionCallResponse> decode(std::string_view body);
  bool operator==(const FunctionCallResponse&) const = default;
};
void encode(const FunctionCallResponse& msg, std::string& out);

// 'A': a NOTIFY delivered to this session; may arrive at any time.
struct NotificationResponse {
  static constexpr char kType = 'A';
  int32_t process_id = 0;  // of the notifying backend
  std::string_view channel{};
  std::string_view payload{};

  static Result<NotificationResponse> decode(std::string_view body);
  bool operator==(const NotificationResponse&) const = default;
};
void encode(const NotificationResponse& msg, std::string& out);

// 't': the parameter types of a prepared statement (answer to Describe 'S').
struct ParameterDescription {
  static constexpr char kType = 't';
  OidArray types{};

  static Result<ParameterDescription> decode(std::string_view body);
  bool operator==(const ParameterDescription&) const = default;
};
void encode(const ParameterDescription& msg, std::string& out);

}  // namespace pgw::pgwire
