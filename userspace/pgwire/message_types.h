// Names of the typed messages per direction, for logs and for refusing a
// type the protocol does not have. The same byte means different messages
// in each direction ('D' is Describe from the client, DataRow from the
// server), so the direction is always explicit.
#pragma once

#include <string_view>

#include "common/result.h"
#include "pgwire/frame.h"

namespace pgw::pgwire {

// The type byte of every message the client may send after startup.
enum class FrontendMsg : char {
  Bind = 'B',
  Close = 'C',
  CopyData = 'd',
  CopyDone = 'c',
  CopyFail = 'f',
  Describe = 'D',
  Execute = 'E',
  Flush = 'H',
  FunctionCall = 'F',
  Password = 'p',  // also GSSResponse, SASLInitialResponse, SASLResponse
  Parse = 'P',
  Query = 'Q',
  Sync = 'S',
  Terminate = 'X',
};

// The type byte of every message the server sends.
enum class BackendMsg : char {
  ParseComplete = '1',
  BindComplete = '2',
  CloseComplete = '3',
  NotificationResponse = 'A',
  CopyDone = 'c',
  CommandComplete = 'C',
  CopyData = 'd',
  DataRow = 'D',
  ErrorResponse = 'E',
  CopyInResponse = 'G',
  CopyOutResponse = 'H',
  EmptyQueryResponse = 'I',
  BackendKeyData = 'K',
  NoData = 'n',
  NoticeResponse = 'N',
  Authentication = 'R',
  PortalSuspended = 's',
  ParameterStatus = 'S',
  ParameterDescription = 't',
  RowDescription = 'T',
  NegotiateProtocolVersion = 'v',
  FunctionCallResponse = 'V',
  CopyBothResponse = 'W',
  ReadyForQuery = 'Z',
};

constexpr char type_byte(FrontendMsg m) { return static_cast<char>(m); }
constexpr char type_byte(BackendMsg m) { return static_cast<char>(m); }

// "Query", "Bind"...; empty for a type the client may not send.
std::string_view frontend_message_name(char type);

// "DataRow", "ReadyForQuery"...; empty for a type the server does not send.
std::string_view backend_message_name(char type);

// Decodes `message` as T after checking its type byte.
template <typename T>
Result<T> decode_message(const Message& message) {
  if (message.type != T::kType) {
    return make_error("expected a message of type " + describe_type(T::kType) + ", got " +
                      describe_type(message.type));
  }
  return T::decode(message.body);
}

}  // namespace pgw::pgwire
