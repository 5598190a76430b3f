#include "pgwire/auth.h"

#include "pgwire/byte_io.h"

namespace pgw::pgwire {

namespace {

Error trailing(const char* what) { return make_error(std::string(what) + " has unexpected trailing bytes"); }

}  // namespace

Result<Authentication> Authentication::decode(std::string_view body) {
  ByteReader r(body);
  int32_t raw_code;
  if (!r.read_i32(raw_code)) return make_error("authentication request is too short");
  Authentication msg;
  msg.code = static_cast<AuthCode>(raw_code);
  switch (msg.code) {
    case AuthCode::kOk:
    case AuthCode::kKerberosV5:
    case AuthCode::kCleartextPassword:
    case AuthCode::kGss:
    case AuthCode::kSspi:
      break;
    case AuthCode::kMd5Password:
      if (!r.read_bytes(4, msg.md5_salt)) return make_error("MD5 authentication request has no 4-byte salt");
      break;
    case AuthCode::kSasl:
      for (;;) {
        std::string_view mechanism;
        if (!r.read_cstring(mechanism)) return make_error("SASL mechanism list is not terminated");
        if (mechanism.empty()) break;
        msg.sasl_mechanisms.push_back(mechanism);
      }
      if (msg.sasl_mechanisms.empty()) return make_error("SASL authentication request lists no mechanism");
      break;
    case AuthCode::kGssContinue:
    case AuthCode::kSaslContinue:
    case AuthCode::kSaslFinal:
      msg.data = r.read_rest();
      break;
    default:
      return make_error("unsupported authentication request code " + std::to_string(raw_code));
  }
  if (!r.at_end()) return trailing("authentication request");
  return msg;
}

void encode(const Authentication& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(Authentication::kType);
  w.i32(static_cast<int32_t>(msg.code));
  switch (msg.code) {
    case AuthCode::kMd5Password:
      w.bytes(msg.md5_salt);
      break;
    case AuthCode::kSasl:
      for (std::string_view mechanism : msg.sasl_mechanisms) w.cstring(mechanism);
      w.u8(0);
      break;
    case AuthCode::kGssContinue:
    case AuthCode::kSaslContinue:
    case AuthCode::kSaslFinal:
      w.bytes(msg.data);
      break;
    default:
      break;
  }
  w.end_message(mark);
}

void encode_authentication_ok(std::string& out) { encode(Authentication{}, out); }

Result<PasswordMessage> PasswordMessage::decode(std::string_view body) {
  ByteReader r(body);
  PasswordMessage msg;
  if (!r.read_cstring(msg.password)) return make_error("password message is not terminated");
  if (!r.at_end()) return trailing("password message");
  return msg;
}

void encode(const PasswordMessage& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(PasswordMessage::kType);
  w.cstring(msg.password);
  w.end_message(mark);
}

Result<SaslInitialResponse> SaslInitialResponse::decode(std::string_view body) {
  ByteReader r(body);
  SaslInitialResponse msg;
  int32_t length;
  if (!r.read_cstring(msg.mechanism)) return make_error("SASL initial response has no mechanism name");
  if (!r.read_i32(length)) return make_error("SASL initial response has no length");
  if (length < -1) return make_error("SASL initial response has invalid length " + std::to_string(length));
  if (length >= 0) {
    std::string_view data;
    if (!r.read_bytes(static_cast<size_t>(length), data)) return make_error("SASL initial response is truncated");
    msg.data = data;
  }
  if (!r.at_end()) return trailing("SASL initial response");
  return msg;
}

void encode(const SaslInitialResponse& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(SaslInitialResponse::kType);
  w.cstring(msg.mechanism);
  if (msg.data) {
    w.i32(static_cast<int32_t>(msg.data->size()));
    w.bytes(*msg.data);
  } else {
    w.i32(-1);
  }
  w.end_message(mark);
}

Result<SaslResponse> SaslResponse::decode(std::string_view body) { return SaslResponse{body}; }

void encode(const SaslResponse& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(SaslResponse::kType);
  w.bytes(msg.data);
  w.end_message(mark);
}

Result<GssResponse> GssResponse::decode(std::string_view body) { return GssResponse{body}; }

void encode(const GssResponse& msg, std::string& out) {
  ByteWriter w(out);
  const size_t mark = w.begin_message(GssResponse::kType);
  w.bytes(msg.data);
  w.end_message(mark);
}

}  // namespace pgw::pgwire
