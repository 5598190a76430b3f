// Messages that are only a type byte and a length of 4. Each has its own
// type byte, so one template gives each a distinct C++ type.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "pgwire/byte_io.h"
#include "pgwire/frame.h"

namespace pgw::pgwire {

template <char Type>
struct EmptyMessage {
  static constexpr char kType = Type;

  static Result<EmptyMessage> decode(std::string_view body) {
    if (!body.empty()) return make_error("message of type " + describe_type(Type) + " must have an empty body");
    return EmptyMessage{};
  }
  bool operator==(const EmptyMessage&) const = default;
};

template <char Type>
void encode(const EmptyMessage<Type>&, std::string& out) {
  ByteWriter w(out);
  w.end_message(w.begin_message(Type));
}

// Frontend.
using Flush = EmptyMessage<'H'>;
using Sync = EmptyMessage<'S'>;
using Terminate = EmptyMessage<'X'>;
// Both directions.
using CopyDone = EmptyMessage<'c'>;
// Backend.
using ParseComplete = EmptyMessage<'1'>;
using BindComplete = EmptyMessage<'2'>;
using CloseComplete = EmptyMessage<'3'>;
using EmptyQueryResponse = EmptyMessage<'I'>;
using NoData = EmptyMessage<'n'>;
using PortalSuspended = EmptyMessage<'s'>;

}  // namespace pgw::pgwire
