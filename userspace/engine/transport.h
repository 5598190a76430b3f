// How a client reached the engine: which listener accepted it.
#pragma once

#include <cstdint>

namespace pgw::engine {

// kTcp: `listen` (explicit clients and connections redirected by connect4/6);
// kUnix: `unix_socket` (explicit, SO_PEERCRED identity); kUnixIntercepted:
// pgwarden's socket for unix connects the kernel redirected from
// intercept.unix_paths.
enum class Transport : uint8_t { kTcp, kUnix, kUnixIntercepted };

}  // namespace pgw::engine
