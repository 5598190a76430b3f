// Names of the typed messages per direction, for logs and for refusing a
// type the protocol does not have. The same byte means different messages
// in each direction ('D' is Describe from the client, DataRow from the
// server), so the direction is always explicit.
#pragma once

#include <string_view>

#include "common/result.h"
#include "pgwire/frame.h"

namespace pgw::pgwire {

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
