// Messages the client sends after the startup phase: the simple and extended
// query protocols and FunctionCall. The authentication answers ('p') are in
// auth.h, COPY messages in copy_messages.h, the empty ones (Flush, Sync,
// Terminate) in empty_message.h.
//
// Same conventions as backend_messages.h: kType, a strict static decode(body)
// and a free encode(msg, out); views point into the caller's buffer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "pgwire/wire_arrays.h"

namespace pgw::pgwire {

// 'Q': a simple-protocol query string (possibly several statements).
struct Query {
  static constexpr char kType = 'Q';
  std::string_view query{};

  static Result<Query> decode(std::string_view body);
  bool operator==(const Query&) const = default;
};
void encode(const Query& msg, std::string& out);

// 'P': prepares `query` as statement `statement` ("" = unnamed).
struct Parse {
  static constexpr char kType = 'P';
  std::string_view statement{};
  std::string_view query{};
  OidArray parameter_types{};  // 0 leaves a parameter's type unspecified

  static Result<Parse> decode(std::string_view body);
  bool operator==(const Parse&) const = default;
};
void encode(const Parse& msg, std::string& out);

// 'B': binds parameters to a prepared statement, creating a portal.
struct Bind {
  static constexpr char kType = 'B';
  std::string_view portal{};
  std::string_view statement{};
  // None (all text), one (applies to all) or one per parameter.
  Int16Array parameter_formats{};
  ValueList parameters{};
  // None (all text), one (applies to all) or one per result column.
  Int16Array result_formats{};

  // The format of parameter `i`, resolving the none/one/each convention.
  int16_t parameter_format(size_t i) const;

  static Result<Bind> decode(std::string_view body);
  bool operator==(const Bind&) const = default;
};
void encode(const Bind& msg, std::string& out);

// What Close and Describe refer to.
inline constexpr char kTargetStatement = 'S';
inline constexpr char kTargetPortal = 'P';

// 'C' from the client: closes a prepared statement or portal.
struct Close {
  static constexpr char kType = 'C';
  char target = kTargetStatement;
  std::string_view name{};

  static Result<Close> decode(std::string_view body);
  bool operator==(const Close&) const = default;
};
void encode(const Close& msg, std::string& out);

// 'D' from the client: asks for a statement's or portal's description.
struct Describe {
  static constexpr char kType = 'D';
  char target = kTargetStatement;
  std::string_view name{};

  static Result<Describe> decode(std::string_view body);
  bool operator==(const Describe&) const = default;
};
void encode(const Describe& msg, std::string& out);

// 'E' from the client: runs a portal, at most `max_rows` rows (0 = all).
struct Execute {
  static constexpr char kType = 'E';
  std::string_view portal{};
  int32_t max_rows = 0;

  static Result<Execute> decode(std::string_view body);
  bool operator==(const Execute&) const = default;
};
void encode(const Execute& msg, std::string& out);

// 'F': the legacy fast-path function call.
struct FunctionCall {
  static constexpr char kType = 'F';
  Oid function = 0;
  Int16Array argument_formats{};  // none, one, or one per argument
  ValueList arguments{};
  int16_t result_format = kFormatText;

  static Result<FunctionCall> decode(std::string_view body);
  bool operator==(const FunctionCall&) const = default;
};
void encode(const FunctionCall& msg, std::string& out);

}  // namespace pgw::pgwire
