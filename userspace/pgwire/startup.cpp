#include "pgwire/startup.h"

#include "pgwire/byte_io.h"

namespace pgw::pgwire {

namespace {

// Length word plus code: the smallest packet there is (SSLRequest).
constexpr size_t kMinStartupPacketSize = 8;

Result<StartupPacket> decode_startup_message(int32_t version, ByteReader& r) {
  if (protocol_major(version) != 3) {
    return make_error("unsupported frontend protocol " + std::to_string(protocol_major(version)) + "." +
                      std::to_string(protocol_minor(version)) + ": only protocol 3 is supported");
  }
  StartupMessage msg;
  msg.protocol_version = version;
  for (;;) {
    std::string_view name;
    if (!r.read_cstring(name)) return make_error("startup packet is missing its terminator");
    if (name.empty()) break;  // the final \0
    std::string_view value;
    if (!r.read_cstring(value)) {
      return make_error("startup packet has no value for parameter \"" + std::string(name) + "\"");
    }
    if (msg.find(name)) return make_error("startup packet repeats parameter \"" + std::string(name) + "\"");
    msg.parameters.emplace_back(name, value);
  }
  if (!r.at_end()) return make_error("startup packet has bytes after its terminator");
  if (!msg.find("user")) return make_error("no PostgreSQL user name specified in startup packet");
  return StartupPacket{std::move(msg)};
}

Result<StartupPacket> decode_cancel_request(ByteReader& r) {
  CancelRequest msg;
  if (!r.read_i32(msg.process_id)) return make_error("cancel request is too short");
  const size_t key_size = r.remaining();
  if (key_size < kMinCancelKeySize || key_size > kMaxCancelKeySize) {
    return make_error("cancel request has a secret key of " + std::to_string(key_size) +
                      " bytes (must be 4 to 256)");
  }
  msg.secret_key = std::string(r.read_rest());
  return StartupPacket{std::move(msg)};
}

}  // namespace

std::optional<std::string_view> StartupMessage::find(std::string_view name) const {
  for (const auto& [key, value] : parameters) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

Result<std::optional<std::string_view>> extract_startup_packet(std::string_view buffer) {
  if (buffer.size() < 4) return std::optional<std::string_view>{};
  const uint32_t length = load_u32(buffer.data());
  if (length < kMinStartupPacketSize || length > kMaxStartupPacketSize) {
    return make_error("invalid length of startup packet: " + std::to_string(static_cast<int32_t>(length)));
  }
  if (buffer.size() < length) return std::optional<std::string_view>{};
  return std::optional<std::string_view>{buffer.substr(0, length)};
}

Result<StartupPacket> decode_startup_packet(std::string_view packet) {
  ByteReader r(packet);
  uint32_t length = 0;
  int32_t code = 0;
  if (!r.read_u32(length) || length != packet.size() || length < kMinStartupPacketSize ||
      length > kMaxStartupPacketSize) {
    return make_error("invalid length of startup packet");
  }
  (void)r.read_i32(code);  // cannot fail: length >= 8 was checked
  switch (code) {
    case kSslRequestCode:
      if (!r.at_end()) return make_error("SSLRequest has unexpected bytes after its code");
      return StartupPacket{SslRequest{}};
    case kGssEncRequestCode:
      if (!r.at_end()) return make_error("GSSENCRequest has unexpected bytes after its code");
      return StartupPacket{GssEncRequest{}};
    case kCancelRequestCode:
      return decode_cancel_request(r);
    default:
      return decode_startup_message(code, r);
  }
}

void encode(const StartupMessage& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_untyped();
  w.i32(msg.protocol_version);
  for (const auto& [name, value] : msg.parameters) {
    w.cstring(name);
    w.cstring(value);
  }
  w.u8(0);
  w.end_message(mark);
}

static void encode_code_only(int32_t code, std::string& out) {
  ByteWriter w(out);
  w.i32(8);
  w.i32(code);
}

void encode(const SslRequest&, std::string& out) { encode_code_only(kSslRequestCode, out); }
void encode(const GssEncRequest&, std::string& out) { encode_code_only(kGssEncRequestCode, out); }

void encode(const CancelRequest& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_untyped();
  w.i32(kCancelRequestCode);
  w.i32(msg.process_id);
  w.bytes(msg.secret_key);
  w.end_message(mark);
}

}  // namespace pgw::pgwire
