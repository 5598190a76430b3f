// The COPY sub-protocol. CopyData and CopyDone (empty_message.h) flow in
// both directions; CopyFail comes from the client; the three *Response
// messages from the server open COPY FROM STDIN, COPY TO STDOUT and
// replication-style COPY BOTH. NoticeResponse, NotificationResponse and
// ParameterStatus may interleave with CopyData at any time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pgwire/wire_arrays.h"

namespace pgw::pgwire {

// 'd': a chunk of the COPY stream; chunk boundaries carry no meaning.
struct CopyData {
  static constexpr char kType = 'd';
  std::string_view data{};

  static Result<CopyData> decode(std::string_view body) { return CopyData{body}; }
  bool operator==(const CopyData&) const = default;
};
void encode(const CopyData& msg, std::string& out);

// 'f': the client aborts COPY FROM STDIN with this reason.
struct CopyFail {
  static constexpr char kType = 'f';
  std::string_view message{};

  static Result<CopyFail> decode(std::string_view body);
  bool operator==(const CopyFail&) const = default;
};
void encode(const CopyFail& msg, std::string& out);

// The shape shared by the three responses: overall format (0 text, 1
// binary) and one format code per column (all 0 when the overall format is
// text).
struct CopyResponseBody {
  int8_t format = kFormatText;
  Int16Array column_formats{};

  bool operator==(const CopyResponseBody&) const = default;
};

template <char Type>
struct CopyResponse : CopyResponseBody {
  static constexpr char kType = Type;
  static Result<CopyResponse> decode(std::string_view body);
  bool operator==(const CopyResponse&) const = default;
};

using CopyInResponse = CopyResponse<'G'>;
using CopyOutResponse = CopyResponse<'H'>;
using CopyBothResponse = CopyResponse<'W'>;

Status decode_copy_response_body(std::string_view body, CopyResponseBody& out);
void encode_copy_response(char type, const CopyResponseBody& msg, std::string& out);

template <char Type>
Result<CopyResponse<Type>> CopyResponse<Type>::decode(std::string_view body) {
  CopyResponse msg;
  if (Status s = decode_copy_response_body(body, msg); !s) return make_error(s.error());
  return msg;
}

template <char Type>
void encode(const CopyResponse<Type>& msg, std::string& out) {
  encode_copy_response(Type, msg, out);
}

}  // namespace pgw::pgwire
