#include "engine/cancel_registry.h"

#include <openssl/rand.h>

#include <cstdlib>

namespace pgw::engine {

std::pair<int32_t, std::string> CancelRegistry::issue(const CancelTarget& target) {
  std::string secret(target.secret_key.size() < 4 ? 4 : target.secret_key.size(), '\0');
  std::lock_guard lock(mu_);
  for (;;) {
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), static_cast<int>(secret.size())) != 1) {
      // A predictable cancel key would let anyone cancel others' queries.
      std::abort();
    }
    auto key = std::make_pair(target.process_id, secret);
    if (targets_.find(key) == targets_.end()) {
      targets_.emplace(key, target);
      return key;
    }
  }
}

void CancelRegistry::forget(int32_t process_id, const std::string& secret_key) {
  std::lock_guard lock(mu_);
  targets_.erase(std::make_pair(process_id, secret_key));
}

std::optional<CancelTarget> CancelRegistry::find(int32_t process_id, const std::string& secret_key) const {
  std::lock_guard lock(mu_);
  auto it = targets_.find(std::make_pair(process_id, secret_key));
  if (it == targets_.end()) return std::nullopt;
  return it->second;
}

size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return targets_.size();
}

}  // namespace pgw::engine
