// What a completion belongs to. Every submission's user_data is either a
// session pointer with the operation kind in its low bits (sessions are
// 16-byte aligned, so the bits are free), or a worker-level kind with no
// pointer. One word, no lookup table, no allocation per operation.
#pragma once

#include <cstdint>

namespace pgw::engine {

enum class OpKind : uint8_t {
  // worker-level
  kAccept = 1,
  kWakeup = 2,     // eventfd read: stop or drain requested
  kTick = 3,       // periodic timer (drain deadline, heartbeat)
  // session-level
  kClientRecv = 4,
  kClientSend = 5,
  kUpstreamRecv = 6,
  kUpstreamSend = 7,
  kUpstreamConnect = 8,
  kConnectTimeout = 9,
  kFileOpen = 10,
  kFileRead = 11,
  kFileClose = 12,
  kShutdown = 13,  // best-effort socket shutdown we do not wait on
};

constexpr uint64_t kOpMask = 0xf;

inline uint64_t pack_op(const void* owner, OpKind kind, uint64_t index = 0) {
  return owner != nullptr ? (reinterpret_cast<uint64_t>(owner) | static_cast<uint64_t>(kind))
                          : ((index << 4) | static_cast<uint64_t>(kind));
}
inline OpKind op_kind(uint64_t user_data) { return static_cast<OpKind>(user_data & kOpMask); }
inline bool is_session_op(OpKind k) { return static_cast<uint8_t>(k) >= static_cast<uint8_t>(OpKind::kClientRecv); }
template <typename T>
T* op_owner(uint64_t user_data) {
  return reinterpret_cast<T*>(user_data & ~kOpMask);
}
inline uint64_t op_index(uint64_t user_data) { return user_data >> 4; }

}  // namespace pgw::engine
