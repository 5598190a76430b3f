#include "policy/secret.h"

namespace pgw::policy {

// Best effort: overwrite the bytes before the allocation goes back to the heap, so a later
// heap dump or a reused buffer does not carry the password. volatile stops the
// compiler from dropping the stores as dead.
Secret::~Secret() {
  volatile char* p = value_.data();
  for (size_t i = 0; i < value_.size(); ++i) p[i] = 0;
}

}  // namespace pgw::policy
