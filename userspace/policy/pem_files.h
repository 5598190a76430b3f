// What the config loader checks of a PEM file of CA certificates before the
// engine builds a TLS context from it, so `pgwarden policy check` and a
// refused reload name the file and the problem ("no certificate in it")
// rather than a later handshake failing for every session.
#pragma once

#include <string>

#include "common/result.h"

namespace pgw::policy {

// The number of certificates in a PEM bundle at `path` (at least one), or
// why it cannot be used: unreadable, not PEM, no certificate.
Result<size_t> count_pem_certificates(const std::string& path);

}  // namespace pgw::policy
