// Messages the server sends after the startup phase (the Authentication*
// family is in auth.h, ErrorResponse/NoticeResponse in error_response.h).
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

}  // namespace pgw::pgwire
