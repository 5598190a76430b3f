#include "policy/pem_files.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace pgw::policy {

Result<size_t> count_pem_certificates(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) return make_error("cannot read " + path + ": " + std::strerror(errno));
  ERR_clear_error();
  // The same reader X509_STORE_load_file uses: certificates (and CRLs) in
  // PEM, anything else between them skipped.
  STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read(file.get(), nullptr, nullptr, nullptr);
  if (infos == nullptr) {
    char why[256] = "";
    ERR_error_string_n(ERR_get_error(), why, sizeof why);
    ERR_clear_error();
    return make_error(path + " is not a PEM file of certificates (" + why + ")");
  }
  size_t certificates = 0;
  for (int i = 0; i < sk_X509_INFO_num(infos); ++i) {
    if (sk_X509_INFO_value(infos, i)->x509 != nullptr) ++certificates;
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  ERR_clear_error();
  if (certificates == 0) return make_error(path + " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  return certificates;
}

}  // namespace pgw::policy
