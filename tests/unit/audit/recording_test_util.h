// Shared by the recording tests and the sample writer: a fresh Ed25519 key,
// a temporary directory, a byte editor, and a sample session written with
// blocks of several sizes.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit/recording_keys.h"
#include "audit/recording_writer.h"

namespace pgw::audit::testing {

// A PEM private key as `openssl genpkey -algorithm ed25519` writes it.
inline std::string new_key_pem(const char* algorithm = "ED25519") {
  EVP_PKEY* key = std::string(algorithm) == "EC" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")
                                                 : EVP_PKEY_Q_keygen(nullptr, nullptr, algorithm);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

inline std::shared_ptr<const SigningKey> new_signing_key() {
  auto key = SigningKey::from_pem(new_key_pem());
  if (!key) throw std::runtime_error(key.error());
  return std::make_shared<const SigningKey>(std::move(key).value());
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_file(const std::string& path, const std::string& bytes, mode_t mode = 0600) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  ::chmod(path.c_str(), mode);
}

struct TempDir {
  std::string path;
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/pgwrec-test-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = buf.data();
  }
  ~TempDir() {
    if (std::getenv("PGWREC_KEEP_TEST_FILES") == nullptr) {
      std::string cmd = "rm -rf '" + path + "'";
      [[maybe_unused]] int rc = std::system(cmd.c_str());
    }
  }
};

struct SampleRecord {
  RecordType type;
  uint64_t monotonic_ns;
  std::string payload;
};

struct Sample {
  std::string path;
  std::vector<SampleRecord> records;  // index 0 is the header (its payload as written)
};

// A session of `n` records after the header. Blocks: every 37 records, and
// a run of one-record blocks from record 100 (small: never compressed).
inline Sample write_sample(const std::string& dir, std::shared_ptr<const SigningKey> key, const std::string& session,
                           int n, bool compress, bool close = true) {
  nlohmann::json header = {
      {"identity", {{"cgroup", "/kubepods/pod-1/ctr"}, {"pid", 4242}, {"uid", 1000}, {"gid", 1000},
                    {"comm", "psql"}, {"pod", "default/reports-0"}}},
      {"upstream", "main"},
      {"database", "app"},
      {"startup_parameters", {{"user", "app"}, {"application_name", "psql"}}},
      {"pgwarden_version", "0.1.0"},
      {"policy_hash", "sha256:00"},
  };
  WriterOptions options;
  options.compress = compress;
  auto w = RecordingWriter::create(dir, session, header, key, options);
  if (!w) throw std::runtime_error(w.error());
  Sample s;
  s.path = (*w)->path();
  s.records.push_back({RecordType::header, 0, {}});
  uint32_t x = 12345;
  for (int i = 1; i <= n; ++i) {
    x = x * 1103515245u + 12345u;
    const auto type = i % 10 == 0 ? RecordType::event : (i % 2 ? RecordType::client_message : RecordType::server_message);
    std::string payload;
    if (type == RecordType::event) {
      payload = nlohmann::json{{"event", "decision"}, {"n", i}}.dump();
    } else {
      payload = std::string(1, type == RecordType::client_message ? 'Q' : 'D');
      const size_t len = (x >> 8) % 200;
      for (size_t k = 0; k < len; ++k) payload += static_cast<char>('a' + (k + static_cast<size_t>(i)) % 7);
      if (i % 13 == 0) payload.clear();  // empty records are records too
    }
    const uint64_t ts = 1000000ull * static_cast<uint64_t>(i) + (x & 0xffff);
    if (auto st = (*w)->append(type, ts, payload); !st) throw std::runtime_error(st.error());
    s.records.push_back({type, ts, payload});
    if (i % 37 == 0 || (i >= 100 && i < 104)) {
      if (auto st = (*w)->flush(); !st) throw std::runtime_error(st.error());
    }
  }
  if (close) {
    if (auto st = (*w)->close(); !st) throw std::runtime_error(st.error());
  } else {
    if (auto st = (*w)->flush(); !st) throw std::runtime_error(st.error());
  }
  return s;
}

}  // namespace pgw::audit::testing
