#include "pgwire/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>

#include "pgwire/auth.h"
#include "pgwire/base64.h"
#include "pgwire/saslprep.h"

namespace pgw::pgwire {

namespace {

constexpr size_t kKeySize = 32;        // SHA-256 output
constexpr size_t kRawNonceSize = 18;   // PostgreSQL's SCRAM_RAW_NONCE_LEN

using Key = std::array<unsigned char, kKeySize>;

// RFC 5802 saslname: ',' and '=' must be escaped in the user name.
std::string escape_saslname(std::string_view user) {
  std::string out;
  for (char c : user) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// RFC 5802 "printable": %x21-2B / %x2D-7E.
bool is_printable_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

bool hmac_sha256(const unsigned char* key, size_t key_size, std::string_view data, Key& out) {
  unsigned int out_size = 0;
  return HMAC(EVP_sha256(), key, static_cast<int>(key_size), reinterpret_cast<const unsigned char*>(data.data()),
              data.size(), out.data(), &out_size) != nullptr &&
         out_size == kKeySize;
}

bool sha256(const Key& in, Key& out) {
  unsigned int out_size = 0;
  return EVP_Digest(in.data(), in.size(), out.data(), &out_size, EVP_sha256(), nullptr) == 1 && out_size == kKeySize;
}

std::string_view as_view(const Key& key) { return {reinterpret_cast<const char*>(key.data()), key.size()}; }

// Splits "a=x,b=y,..." one attribute at a time.
class AttributeReader {
 public:
  explicit AttributeReader(std::string_view text) : rest_(text) {}

  // Reads the next attribute, which must be `name`; `value` excludes "x=".
  bool expect(char name, std::string_view& value) {
    if (done_) return false;
    const size_t comma = rest_.find(',');
    std::string_view attr = rest_.substr(0, comma);
    if (comma == std::string_view::npos) {
      done_ = true;
    } else {
      rest_.remove_prefix(comma + 1);
    }
    if (attr.size() < 2 || attr[0] != name || attr[1] != '=') return false;
    value = attr.substr(2);
    return true;
  }

  bool peek_is(char name) const { return !done_ && rest_.size() >= 2 && rest_[0] == name && rest_[1] == '='; }
  bool done() const { return done_; }

 private:
  std::string_view rest_;
  bool done_ = false;
};

// The GS2 header (RFC 5802 section 7) for a channel binding choice.
std::string gs2_header(ScramChannelBinding::Mode mode) {
  switch (mode) {
    case ScramChannelBinding::Mode::kNotOffered: return "y,,";
    case ScramChannelBinding::Mode::kTlsServerEndPoint: return "p=tls-server-end-point,,";
    case ScramChannelBinding::Mode::kNone: break;
  }
  return "n,,";
}

}  // namespace

Result<ScramSha256Client> ScramSha256Client::create(std::string_view password, std::string_view user,
                                                    ScramChannelBinding binding) {
  unsigned char raw[kRawNonceSize];
  if (RAND_bytes(raw, sizeof raw) != 1) return make_error("cannot generate a SCRAM nonce: RAND_bytes failed");
  return create_with_nonce(password, user,
                           base64_encode(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw)),
                           std::move(binding));
}

Result<ScramSha256Client> ScramSha256Client::create_with_nonce(std::string_view password, std::string_view user,
                                                               std::string_view client_nonce,
                                                               ScramChannelBinding binding) {
  if (!is_printable_nonce(client_nonce)) return make_error("SCRAM client nonce must be printable and without ','");
  const bool plus = binding.mode == ScramChannelBinding::Mode::kTlsServerEndPoint;
  if (plus && binding.data.empty()) return make_error("SCRAM channel binding has no server certificate hash");
  ScramSha256Client client;
  client.password_ = saslprep_password(password);
  client.client_nonce_ = std::string(client_nonce);
  client.gs2_header_ = gs2_header(binding.mode);
  client.plus_ = plus;
  if (plus) client.channel_binding_data_ = std::move(binding.data);
  client.client_first_bare_ = "n=" + escape_saslname(user) + ",r=" + client.client_nonce_;
  client.client_first_ = client.gs2_header_ + client.client_first_bare_;
  return client;
}

std::string_view ScramSha256Client::mechanism() const { return plus_ ? kScramSha256Plus : kScramSha256; }

ScramSha256Client::~ScramSha256Client() {
  OPENSSL_cleanse(password_.data(), password_.size());
  OPENSSL_cleanse(expected_server_signature_.data(), expected_server_signature_.size());
}

Error ScramSha256Client::fail(std::string message) {
  state_ = State::kFailed;
  OPENSSL_cleanse(password_.data(), password_.size());
  password_.clear();
  return make_error(std::move(message));
}

Result<std::string> ScramSha256Client::handle_server_first(std::string_view server_first) {
  if (state_ != State::kStarted) return make_error("SCRAM server-first message arrived out of order");

  AttributeReader attrs(server_first);
  std::string_view nonce, salt_b64, iterations_text;
  if (attrs.peek_is('m')) return fail("SCRAM server requires an unsupported extension");
  if (!attrs.expect('r', nonce)) return fail("SCRAM server-first message has no nonce");
  if (!attrs.expect('s', salt_b64)) return fail("SCRAM server-first message has no salt");
  if (!attrs.expect('i', iterations_text)) return fail("SCRAM server-first message has no iteration count");
  // Anything after "i=" is an extension we may ignore (RFC 5802 7.).

  if (nonce.size() <= client_nonce_.size() || nonce.substr(0, client_nonce_.size()) != client_nonce_ ||
      !is_printable_nonce(nonce)) {
    return fail("SCRAM server nonce does not extend the client nonce");
  }
  const std::optional<std::string> salt = base64_decode(salt_b64);
  if (!salt || salt->empty()) return fail("SCRAM salt is not valid base64");
  int iterations = 0;
  const auto [end, ec] =
      std::from_chars(iterations_text.data(), iterations_text.data() + iterations_text.size(), iterations);
  if (iterations_text.empty() || ec != std::errc{} || end != iterations_text.data() + iterations_text.size() ||
      iterations < 1) {
    // from_chars leaves ec = result_out_of_range past INT_MAX: too many too.
    if (ec == std::errc::result_out_of_range && iterations_text.front() != '-') {
      return fail("SCRAM server asks for " + std::string(iterations_text) + " iterations, more than the " +
                  std::to_string(kMaxScramIterations) + " pgwarden allows");
    }
    return fail("SCRAM iteration count \"" + std::string(iterations_text) + "\" is not a positive integer");
  }
  if (iterations > kMaxScramIterations) {
    return fail("SCRAM server asks for " + std::to_string(iterations) + " iterations, more than the " +
                std::to_string(kMaxScramIterations) + " pgwarden allows");
  }

  // c= is base64 of the GS2 header and, with SCRAM-SHA-256-PLUS, the channel
  // binding data ("c=biws" is base64("n,,")).
  const std::string final_without_proof =
      "c=" + base64_encode(gs2_header_ + channel_binding_data_) + ",r=" + std::string(nonce);
  const std::string auth_message =
      client_first_bare_ + "," + std::string(server_first) + "," + final_without_proof;

  Key salted{}, client_key{}, stored_key{}, client_signature{}, server_key{}, proof{};
  bool ok = PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()),
                              reinterpret_cast<const unsigned char*>(salt->data()), static_cast<int>(salt->size()),
                              iterations, EVP_sha256(), kKeySize, salted.data()) == 1;
  ok = ok && hmac_sha256(salted.data(), salted.size(), "Client Key", client_key);
  ok = ok && sha256(client_key, stored_key);
  ok = ok && hmac_sha256(stored_key.data(), stored_key.size(), auth_message, client_signature);
  ok = ok && hmac_sha256(salted.data(), salted.size(), "Server Key", server_key);
  ok = ok && hmac_sha256(server_key.data(), server_key.size(), auth_message, expected_server_signature_);
  for (size_t i = 0; i < kKeySize; ++i) proof[i] = client_key[i] ^ client_signature[i];
  OPENSSL_cleanse(salted.data(), salted.size());
  OPENSSL_cleanse(client_key.data(), client_key.size());
  OPENSSL_cleanse(server_key.data(), server_key.size());
  if (!ok) return fail("SCRAM key derivation failed in OpenSSL");

  OPENSSL_cleanse(password_.data(), password_.size());
  password_.clear();
  state_ = State::kFinalSent;
  return final_without_proof + ",p=" + base64_encode(as_view(proof));
}

Status ScramSha256Client::verify_server_final(std::string_view server_final) {
  if (state_ != State::kFinalSent) return make_error("SCRAM server-final message arrived out of order");
  AttributeReader attrs(server_final);
  std::string_view value;
  if (attrs.peek_is('e')) {
    (void)attrs.expect('e', value);
    return fail("SCRAM server reported an error: " + std::string(value));
  }
  if (!attrs.expect('v', value)) return fail("SCRAM server-final message has no verifier");
  const std::optional<std::string> signature = base64_decode(value);
  if (!signature || signature->size() != kKeySize ||
      CRYPTO_memcmp(signature->data(), expected_server_signature_.data(), kKeySize) != 0) {
    return fail("SCRAM server signature is wrong: the server does not know the password");
  }
  state_ = State::kDone;
  return ok_status();
}

}  // namespace pgw::pgwire
