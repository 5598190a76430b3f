// The startup phase: the untyped packets a client sends before the typed
// message stream begins (Int32 length counting itself, Int32 code, payload).
//
//   StartupMessage  code = protocol version (3.0 = 196608, 3.2 = 196610),
//                   then name\0value\0 pairs and a final \0
//   SSLRequest      code 80877103, nothing else
//   GSSENCRequest   code 80877104, nothing else
//   CancelRequest   code 80877102, Int32 process id, secret key (4 bytes in
//                   3.0, 4..256 bytes since protocol 3.2)
//
// Decoded startup values are owned strings: the engine keeps user, database
// and settings for the connection's lifetime, and this path is not hot.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "common/result.h"

namespace pgw::pgwire {

inline constexpr int32_t make_protocol_version(int major, int minor) { return (major << 16) | minor; }
inline constexpr int protocol_major(int32_t version) { return static_cast<int>(static_cast<uint32_t>(version) >> 16); }
inline constexpr int protocol_minor(int32_t version) { return version & 0xffff; }

inline constexpr int32_t kProtocol30 = make_protocol_version(3, 0);  // 196608
inline constexpr int32_t kProtocol32 = make_protocol_version(3, 2);  // 196610
inline constexpr int32_t kSslRequestCode = 80877103;
inline constexpr int32_t kGssEncRequestCode = 80877104;
inline constexpr int32_t kCancelRequestCode = 80877102;

// PostgreSQL's MAX_STARTUP_PACKET_LENGTH: bigger startup packets are refused
// before they are read, so nobody can make the server buffer megabytes
// before authenticating.
inline constexpr size_t kMaxStartupPacketSize = 10000;

// Cancel keys: 4 bytes in protocol 3.0; 3.2 allows 4..256.
inline constexpr size_t kMinCancelKeySize = 4;
inline constexpr size_t kMaxCancelKeySize = 256;

struct StartupMessage {
  int32_t protocol_version = kProtocol30;
  // In the order the client sent them. "user" is always present after a
  // successful decode; names are unique.
  std::vector<std::pair<std::string, std::string>> parameters{};

  std::optional<std::string_view> find(std::string_view name) const;
  std::string_view user() const { return find("user").value_or(std::string_view{}); }
  // PostgreSQL's default: the database named like the user.
  std::string_view database() const { return find("database").value_or(user()); }

  bool operator==(const StartupMessage&) const = default;
};

struct SslRequest {
  bool operator==(const SslRequest&) const = default;
};

struct GssEncRequest {
  bool operator==(const GssEncRequest&) const = default;
};

struct CancelRequest {
  int32_t process_id = 0;
  std::string secret_key{};  // 4..256 bytes

  bool operator==(const CancelRequest&) const = default;
};

using StartupPacket = std::variant<StartupMessage, SslRequest, GssEncRequest, CancelRequest>;

// Returns the whole first packet at the start of `buffer` (length word
// included), std::nullopt when more bytes are needed, or an error as soon as
// the length word is out of range (< 8 or > kMaxStartupPacketSize).
Result<std::optional<std::string_view>> extract_startup_packet(std::string_view buffer);

// Decodes one whole packet as returned by extract_startup_packet(). Rejects
// unknown codes, protocol major versions other than 3, a StartupMessage
// without "user", duplicate names or a missing terminator, and trailing
// bytes after any packet.
Result<StartupPacket> decode_startup_packet(std::string_view packet);

void encode(const StartupMessage& msg, std::string& out);
void encode(const SslRequest& msg, std::string& out);
void encode(const GssEncRequest& msg, std::string& out);
void encode(const CancelRequest& msg, std::string& out);

// The one-byte answer refusing SSL or GSS encryption. After sending it the
// engine must make sure no byte the client sent before reading it is carried
// into the next phase (CVE-2021-23222): the client has to wait for the
// answer, so such bytes can only be an injection attempt.
inline void encode_encryption_refused(std::string& out) { out.push_back('N'); }

}  // namespace pgw::pgwire
