// Authentication exchange: the server's Authentication* requests ('R') and
// the client's answers, which all share the type byte 'p' and can only be
// told apart by the request they answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace pgw::pgwire {

enum class AuthCode : int32_t {
  kOk = 0,
  kKerberosV5 = 2,
  kCleartextPassword = 3,
  kMd5Password = 5,
  kGss = 7,
  kGssContinue = 8,
  kSspi = 9,
  kSasl = 10,
  kSaslContinue = 11,
  kSaslFinal = 12,
};

inline constexpr char kAuthenticationType = 'R';
inline constexpr char kPasswordMessageType = 'p';  // also SASL*, GSSResponse

// One struct for the whole 'R' family; which fields are meaningful depends on
// `code`, and decode() fills only those.
struct Authentication {
  static constexpr char kType = kAuthenticationType;

  AuthCode code = AuthCode::kOk;
  std::string_view md5_salt;                     // kMd5Password: exactly 4 bytes
  std::vector<std::string_view> sasl_mechanisms{};  // kSasl: at least one
  std::string_view data{};                          // kGssContinue, kSaslContinue, kSaslFinal

  static Result<Authentication> decode(std::string_view body);
  bool operator==(const Authentication&) const = default;
};
void encode(const Authentication& msg, std::string& out);

// 'R' with code 0: what the engine sends its client once it has accepted it.
void encode_authentication_ok(std::string& out);

// Cleartext or MD5 password ("md5..." from md5_password.h).
struct PasswordMessage {
  static constexpr char kType = kPasswordMessageType;
  std::string_view password{};

  static Result<PasswordMessage> decode(std::string_view body);
  bool operator==(const PasswordMessage&) const = default;
};
void encode(const PasswordMessage& msg, std::string& out);

struct SaslInitialResponse {
  static constexpr char kType = kPasswordMessageType;
  std::string_view mechanism{};
  // On the wire a length of -1 means "no initial response"; an empty
  // response is different and is kept as an engaged empty view.
  std::optional<std::string_view> data{};

  static Result<SaslInitialResponse> decode(std::string_view body);
  bool operator==(const SaslInitialResponse&) const = default;
};
void encode(const SaslInitialResponse& msg, std::string& out);

struct SaslResponse {
  static constexpr char kType = kPasswordMessageType;
  std::string_view data{};

  static Result<SaslResponse> decode(std::string_view body);
  bool operator==(const SaslResponse&) const = default;
};
void encode(const SaslResponse& msg, std::string& out);

struct GssResponse {
  static constexpr char kType = kPasswordMessageType;
  std::string_view data{};

  static Result<GssResponse> decode(std::string_view body);
  bool operator==(const GssResponse&) const = default;
};
void encode(const GssResponse& msg, std::string& out);

// "SCRAM-SHA-256" and friends, for the engine's choice of mechanism.
inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";  // with channel binding

}  // namespace pgw::pgwire
