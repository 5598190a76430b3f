// The session recording file format, version 1 (docs/recording-format.md is
// the full description; this header is its single source of numbers).
//
// One append-only file per session:
//
//   preamble  "PGWREC 1\n" (9 bytes), then the 32-byte file id
//   block     28-byte block header, body (the records, zstd-compressed or
//             not), 64-byte Ed25519 signature
//   block     ...
//   block     the last one has the close flag: the file was closed cleanly
//
// A record, as it sits in an uncompressed body (compression is of the whole
// body, and everything below is about the uncompressed bytes):
//
//   u8 type | u64 monotonic_ns | u32 payload_len | payload | 32-byte hash
//
// hash = SHA-256(previous record's hash || type .. payload), the first record
// chaining from the file id. A block's signature is Ed25519 over
// kSignatureContext || kind (1 block, 2 close) || file id || u64 number of
// records so far || the last record's hash. Integers are little-endian.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pgw::audit {

inline constexpr std::string_view kFileMagic = "PGWREC 1\n";  // magic and version line
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kFileIdSize = 32;
inline constexpr size_t kPreambleSize = kFileMagic.size() + kFileIdSize;  // 41

inline constexpr size_t kHashSize = 32;       // SHA-256
inline constexpr size_t kSignatureSize = 64;  // Ed25519

// Block header: magic, flags, 3 zero bytes, first record's index (u64),
// record count (u32), body bytes on disk (u32), body bytes uncompressed (u32).
inline constexpr std::string_view kBlockMagic = "PGWB";
inline constexpr size_t kBlockHeaderSize = 28;
inline constexpr uint8_t kBlockCompressed = 0x01;  // body is one zstd frame
inline constexpr uint8_t kBlockClose = 0x02;       // the close signature: nothing follows
inline constexpr uint8_t kBlockKnownFlags = kBlockCompressed | kBlockClose;

// type (1) + monotonic_ns (8) + payload_len (4) before the payload; the
// hash after it.
inline constexpr size_t kRecordHeadSize = 13;
inline constexpr size_t kRecordOverhead = kRecordHeadSize + kHashSize;

// PostgreSQL's own limit on one message is 1 GiB; a record is at most that.
inline constexpr uint32_t kMaxPayload = 1u << 30;
// A block's uncompressed body: a reader allocates at most this per block.
inline constexpr uint32_t kMaxBlockRaw = (1u << 31) - 1;

// Signed: kSignatureContext || kind || file id || u64 count || chain head.
inline constexpr std::string_view kSignatureContext = "pgwarden recording v1 signature";
inline constexpr uint8_t kSignBlock = 1;
inline constexpr uint8_t kSignClose = 2;
inline constexpr size_t kSignedMessageSize = kSignatureContext.size() + 1 + kFileIdSize + 8 + kHashSize;

enum class RecordType : uint8_t {
  header = 1,          // JSON: who, where, when, with which key (always record 0, and only there)
  client_message = 2,  // one frontend message, as the client sent it
  server_message = 3,  // one backend message, as the client received it (after masking)
  event = 4,           // JSON: something pgwarden decided or did
};

// "header", "client", "server", "event", or "type N" for one this version
// does not know.
std::string record_type_name(RecordType type);

inline constexpr std::string_view kFileSuffix = ".pgwrec";

// Little-endian encoding helpers shared by the writer and the reader.
inline void put_u32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline void put_u64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
inline uint32_t get_u32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t get_u64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// The bytes a block signature covers.
void signed_message(unsigned char out[kSignedMessageSize], uint8_t kind, const unsigned char file_id[kFileIdSize],
                    uint64_t record_count, const unsigned char chain_head[kHashSize]);

}  // namespace pgw::audit
