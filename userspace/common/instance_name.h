// How this pgwarden names itself in ids other nodes may see: approval
// requests and session recordings ("db-node-3-5f2a1c-17"). Ids are kept in
// a store or an index several nodes share, and in files that outlive the
// process, so they carry the host and a random tag drawn once per process:
// two pgwardens of one host, or one restarted, never make the same id.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include <unistd.h>

#include <fmt/format.h>

namespace pgw {

// The host's name up to its first dot, in the characters ids allow
// (letters, digits, '.', '_', '-'; anything else becomes '_').
inline const std::string& node_name() {
  static const std::string name = [] {
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return std::string("pgwarden");
    std::string n(host);
    if (auto dot = n.find('.'); dot != std::string::npos) n.resize(dot);
    for (char& c : n) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-';
      if (!ok) c = '_';
    }
    return n.empty() ? std::string("pgwarden") : n;
  }();
  return name;
}

// Six hex digits, random, the same for the whole life of the process.
inline const std::string& instance_tag() {
  static const std::string tag = [] {
    std::random_device random;
    return fmt::format("{:06x}", random() & 0xffffff);
  }();
  return tag;
}

// "<node>-<tag>-<n>": the engine's per-run session number made unique
// across restarts and nodes (the id of the session's recording).
inline std::string session_name(uint64_t n) {
  return node_name() + "-" + instance_tag() + "-" + std::to_string(n);
}

}  // namespace pgw
