#include "pgwire/backend_messages.h"

#include "pgwire/byte_io.h"
#include "pgwire/codec_errors.h"
#include "pgwire/startup.h"

namespace pgw::pgwire {

using detail::invalid;
using detail::trailing_bytes;
using detail::truncated;

Result<BackendKeyData> BackendKeyData::decode(std::string_view body) {
  constexpr const char* kName = "BackendKeyData";
  ByteReader r(body);
  BackendKeyData msg;
  if (!r.read_i32(msg.process_id)) return truncated(kName);
  msg.secret_key = r.read_rest();
  if (msg.secret_key.size() < kMinCancelKeySize || msg.secret_key.size() > kMaxCancelKeySize) {
    return invalid(kName, "secret key of " + std::to_string(msg.secret_key.size()) + " bytes (must be 4 to 256)");
  }
  return msg;
}

void encode(const BackendKeyData& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(BackendKeyData::kType);
  w.i32(msg.process_id);
  w.bytes(msg.secret_key);
  w.end_message(mark);
}

Result<ParameterStatus> ParameterStatus::decode(std::string_view body) {
  constexpr const char* kName = "ParameterStatus";
  ByteReader r(body);
  ParameterStatus msg;
  if (!r.read_cstring(msg.name) || !r.read_cstring(msg.value)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const ParameterStatus& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(ParameterStatus::kType);
  w.cstring(msg.name);
  w.cstring(msg.value);
  w.end_message(mark);
}

Result<ReadyForQuery> ReadyForQuery::decode(std::string_view body) {
  constexpr const char* kName = "ReadyForQuery";
  ByteReader r(body);
  ReadyForQuery msg;
  if (!r.read_char(msg.status)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  if (msg.status != kIdle && msg.status != kInTransaction && msg.status != kFailedTransaction) {
    return invalid(kName, "unknown transaction status");
  }
  return msg;
}

void encode(const ReadyForQuery& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(ReadyForQuery::kType);
  w.ch(msg.status);
  w.end_message(mark);
}

Result<NegotiateProtocolVersion> NegotiateProtocolVersion::decode(std::string_view body) {
  constexpr const char* kName = "NegotiateProtocolVersion";
  ByteReader r(body);
  NegotiateProtocolVersion msg;
  int32_t count;
  if (!r.read_i32(msg.newest_version) || !r.read_i32(count)) return truncated(kName);
  if (count < 0) return invalid(kName, "negative option count");
  // Each option takes at least its terminator: a count the body cannot hold
  // is refused before reserving memory for it.
  if (static_cast<size_t>(count) > r.remaining()) return truncated(kName);
  msg.unrecognized_options.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count; ++i) {
    std::string_view option;
    if (!r.read_cstring(option)) return truncated(kName);
    msg.unrecognized_options.push_back(option);
  }
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const NegotiateProtocolVersion& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(NegotiateProtocolVersion::kType);
  w.i32(msg.newest_version);
  w.i32(static_cast<int32_t>(msg.unrecognized_options.size()));
  for (std::string_view option : msg.unrecognized_options) w.cstring(option);
  w.end_message(mark);
}

Result<CommandComplete> CommandComplete::decode(std::string_view body) {
  constexpr const char* kName = "CommandComplete";
  ByteReader r(body);
  CommandComplete msg;
  if (!r.read_cstring(msg.tag)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const CommandComplete& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(CommandComplete::kType);
  w.cstring(msg.tag);
  w.end_message(mark);
}

Result<FunctionCallResponse> FunctionCallResponse::decode(std::string_view body) {
  constexpr const char* kName = "FunctionCallResponse";
  ByteReader r(body);
  FunctionCallResponse msg;
  int32_t length;
  if (!r.read_i32(length)) return truncated(kName);
  if (length < -1) return invalid(kName, "result length " + std::to_string(length));
  if (length >= 0) {
    std::string_view value;
    if (!r.read_bytes(static_cast<size_t>(length), value)) return truncated(kName);
    msg.result = value;
  }
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const FunctionCallResponse& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(FunctionCallResponse::kType);
  write_value(w, msg.result);
  w.end_message(mark);
}

Result<NotificationResponse> NotificationResponse::decode(std::string_view body) {
  constexpr const char* kName = "NotificationResponse";
  ByteReader r(body);
  NotificationResponse msg;
  if (!r.read_i32(msg.process_id) || !r.read_cstring(msg.channel) || !r.read_cstring(msg.payload)) {
    return truncated(kName);
  }
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const NotificationResponse& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(NotificationResponse::kType);
  w.i32(msg.process_id);
  w.cstring(msg.channel);
  w.cstring(msg.payload);
  w.end_message(mark);
}

Result<ParameterDescription> ParameterDescription::decode(std::string_view body) {
  constexpr const char* kName = "ParameterDescription";
  ByteReader r(body);
  ParameterDescription msg;
  if (!read_wire_array(r, msg.types)) return truncated(kName);
  if (!r.at_end()) return trailing_bytes(kName);
  return msg;
}

void encode(const ParameterDescription& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(ParameterDescription::kType);
  write_wire_array(w, msg.types);
  w.end_message(mark);
}

}  // namespace pgw::pgwire
