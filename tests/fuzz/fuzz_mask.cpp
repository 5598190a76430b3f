// Target `mask`: DataRow and CopyData masking on the relay, as a hostile or
// broken server could send the rows. The session is fixed (policy: ssn
// partial(last=4), email masked, detectors redacting SSNs, card numbers and
// e-mails anywhere else; the harness's masking catalog); byte 0 picks the
// statement and its result shape:
//   0  SELECT id, name, ssn, email FROM customers   (text columns)
//   1  the same with column types and formats from the next 4 bytes
//   2  COPY customers (id, ssn, name) TO STDOUT     (text COPY)
//   3  COPY ... TO STDOUT (FORMAT csv)
// then length-prefixed (2 bytes) row bodies: DataRow bodies or CopyData
// payloads, then the command's end. A row the plan does not fit ends the
// session; a row that passes is masked. In mode 0 the output must never
// carry the raw SSN 123-45-6789 (the fuzzer's dictionary knows it) standing
// on its own: the ssn column is masked by its rule, any other column by
// the us_ssn detector, and what the email rule keeps (the domain) by the
// detector too. The detector by design leaves the shape alone inside a
// longer number ("123-45-67891", "1-123-45-6789"; us_ssn_scanner.cpp).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "../unit/engine/relay_test_support.h"
#include "../unit/policy/sample_catalog.h"
#include "engine/mask_model_store.h"
#include "engine/mask_models.h"
#include "engine/relay/mask_filter.h"
#include "fuzz_input.h"
#include "pgwire/copy_messages.h"
#include "pgwire/wire_arrays.h"

using namespace pgw;
using namespace pgw::relay::testing;

namespace {

constexpr uint32_t kCustomers = 16386;

mask::MaskSpec spec(mask::MaskSpec::Kind kind, uint32_t last = 0) {
  mask::MaskSpec f;
  f.kind = kind;
  f.last = last;
  return f;
}

struct PolicySide : relay::MaskFilter::PolicySide {
  policy::Config config_;
  policy::Policy policy_;
  std::shared_ptr<const policy::Catalog> catalog_ = policy::testing::masking_catalog();
  PolicySide() {
    policy_.identity = "agent";
    policy::MaskRule ssn;
    ssn.column = "public.customers.ssn";
    ssn.with = spec(mask::MaskSpec::Kind::partial, 4);
    policy::MaskRule email;
    email.column = "public.customers.email";
    email.with = spec(mask::MaskSpec::Kind::email);
    policy::MaskRule detect;
    detect.detect = {mask::Detector::us_ssn, mask::Detector::credit_card, mask::Detector::email};
    detect.with = spec(mask::MaskSpec::Kind::redact);
    policy_.mask = {ssn, email, detect};
  }
  const policy::Config& config() override { return config_; }
  uint64_t config_generation() override { return 1; }
  const policy::Policy* policy() override { return &policy_; }
  std::shared_ptr<const policy::Catalog> catalog() const override { return catalog_; }
  std::vector<std::vector<std::string>> search_paths() const override { return {{"public"}}; }
  bool client_encoding_is_utf8() const override { return true; }
};

std::string copy_out(size_t columns) {
  std::string out;
  pgwire::CopyOutResponse response;
  const std::vector<int16_t> formats(columns, 0);
  const std::string raw = pgwire::Int16Array::pack(std::span<const int16_t>(formats));
  response.column_formats = pgwire::Int16Array(raw);
  pgwire::encode(response, out);
  return out;
}

// 123-45-6789 in `out` where us_ssn would see an SSN: not glued to more
// digits on either side (directly, or by a dash, dot or slash).
bool standalone_ssn_in(std::string_view out) {
  constexpr std::string_view kSsn = "123-45-6789";
  auto digit = [&](size_t i) { return i < out.size() && out[i] >= '0' && out[i] <= '9'; };
  auto glue = [&](size_t i) { return i < out.size() && (out[i] == '-' || out[i] == '.' || out[i] == '/'); };
  for (size_t at = out.find(kSsn); at != std::string_view::npos; at = out.find(kSsn, at + 1)) {
    const size_t end = at + kSsn.size();
    const bool glued_before = at >= 1 && (digit(at - 1) || (at >= 2 && glue(at - 1) && digit(at - 2)));
    const bool glued_after = digit(end) || (glue(end) && digit(end + 1));
    if (!glued_before && !glued_after) return true;
  }
  return false;
}

// Column types a server may describe a customers column with.
constexpr uint32_t kTypes[] = {25, 1043, 23, 20, 17, 114, 3802, 1009, 2249, 1700, 18, 705};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static PolicySide side;
  static engine::MaskModelStore store;
  static engine::MaskModels models{store};
  fuzz::FuzzInput input(data, size);
  const uint8_t mode = input.byte() % 4;
  RelayHarness h;
  h.relay.add_filter(std::make_unique<FactsFilter>());
  h.relay.add_filter(std::make_unique<relay::MaskFilter>(side, models, h.tracker(), "agent", 1));
  const bool copy = mode >= 2;
  if (!copy) {
    fuzz::require(h.send(query("SELECT id, name, ssn, email FROM customers")), "the SELECT of customers is allowed");
    // id is described as text, so that in mode 0 every column is one the
    // detectors scan: they skip an int4 by design (its text cannot hold an
    // SSN), and the SSN property would not hold for bytes no server sends
    // there. Mode 1 gives the columns other types.
    pgwire::FieldDescription fields[] = {field("id", kCustomers, 1, 25), field("name", kCustomers, 2),
                                         field("ssn", kCustomers, 4), field("email", kCustomers, 3)};
    if (mode == 1) {
      for (auto& f : fields) {
        const uint8_t b = input.byte();
        f.type = kTypes[(b >> 1) % std::size(kTypes)];
        f.format = b & 1;
      }
    }
    std::string description;
    pgwire::encode_row_description(std::span<const pgwire::FieldDescription>(fields, 4), description);
    h.server(description);
  } else {
    const char* sql = mode == 2 ? "COPY customers (id, ssn, name) TO STDOUT"
                                : "COPY customers (id, ssn, name) TO STDOUT (FORMAT csv)";
    fuzz::require(h.send(query(sql)), "the COPY of customers is allowed");
    h.server(copy_out(3));
  }
  int rows = 0;
  while (!input.empty() && !h.failed && rows < 64) {
    const std::string_view body = input.take(input.u16() % 4096);
    h.server(simple(copy ? 'd' : 'D', body));
    ++rows;
  }
  if (copy && !h.failed) h.server(simple('c'));
  if (!h.failed) h.server(command_complete(copy ? "COPY 1" : "SELECT 1"));
  if (!h.failed) h.server(ready());
  if (mode == 0) fuzz::check(!standalone_ssn_in(h.client));
  return 0;
}
