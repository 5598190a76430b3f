// Google Benchmark: detector throughput (MB/s on one core) over 64 MiB of
// realistic mixed text, and DataRow / COPY rewriting throughput.
//
// Run: build/tests/unit/mask/mask_bench [--benchmark_filter=Detector]
// The target bar is >= 500 MB/s for every detector.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "mask/copy_rewriter.h"
#include "mask/data_row_rewriter.h"
#include "mask/detector.h"
#include "mask/keyed_hash.h"
#include "pii_gen.h"
#include "row_bytes.h"

namespace pgw::mask {
namespace {

using testing::PiiGen;

constexpr size_t kCorpusBytes = size_t{64} << 20;

// Text that looks like what a notes column, a JSON document or a log line
// holds: words (some capitalised, some non-ASCII), prices, dates, times,
// order numbers, ZIP codes, small JSON objects, URLs; and, about once per
// kilobyte, a real card, SSN, phone, IBAN, e-mail address or API key.
std::string make_corpus() {
  static const char* kWords[] = {
      "the",     "customer", "order",   "shipped", "to",       "and",     "was",      "delivered", "on",
      "invoice", "payment",  "refund",  "account", "address",  "please",  "contact",  "support",   "team",
      "Monday",  "Berlin",   "Zürich",  "São",     "Paulo",    "naïve",   "café",     "東京",      "price",
      "total",   "quantity", "status",  "pending", "approved", "key",     "they",     "asked",     "risk",
      "ghost",   "skiing",   "xoxo",    "AIR",     "ASAP",     "eyes",    "github",   "night",     "gift",
      "with",    "from",     "for",     "about",   "-",        "--",      "e-mail",   "@team",     "re:"};
  PiiGen g(20240601);
  std::string text;
  text.reserve(kCorpusBytes + 4096);
  size_t next_pii = 512;
  while (text.size() < kCorpusBytes) {
    switch (g.uniform(0, 19)) {
      case 0:
        text += std::to_string(g.uniform(1, 999)) + "." + std::to_string(g.uniform(10, 99));
        break;
      case 1:
        text += "2024-" + std::to_string(g.uniform(10, 12)) + "-" + std::to_string(g.uniform(10, 28));
        break;
      case 2:
        text += "ORD-" + g.digits(6);
        break;
      case 3:
        text += std::to_string(g.uniform(10, 23)) + ":" + std::to_string(g.uniform(10, 59));
        break;
      case 4:
        text += "{\"id\": " + g.digits(5) + ", \"name\": \"" + g.word(6) + "\", \"qty\": " + g.digits(1) + "}";
        break;
      case 5:
        text += "https://www.example.com/" + g.word(5) + "?id=" + g.digits(4);
        break;
      case 6:
        text += g.digits(5);
        break;
      case 7:
        text += "\n";
        break;
      default: {
        std::string w = kWords[g.uniform(0, static_cast<int>(std::size(kWords)) - 1)];
        text += w;
        break;
      }
    }
    text += g.coin() ? " " : (g.coin() ? ", " : ". ");
    if (text.size() >= next_pii) {
      switch (g.uniform(0, 5)) {
        case 0: text += g.card(); break;
        case 1: text += g.ssn(); break;
        case 2: text += g.phone(); break;
        case 3: text += g.iban(); break;
        case 4: text += g.email(); break;
        default: text += g.aws_key(); break;
      }
      text += " ";
      next_pii = text.size() + 512 + static_cast<size_t>(g.uniform(0, 1024));
    }
  }
  return text;
}

const std::string& corpus() {
  static const std::string text = make_corpus();
  return text;
}

void scan_corpus(benchmark::State& state, const DetectorSet& set) {
  const std::string& text = corpus();
  std::vector<Span> hits;
  hits.reserve(1 << 20);
  for (auto _ : state) {
    set.scan(text, hits);
    benchmark::DoNotOptimize(hits.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.counters["hits"] = static_cast<double>(hits.size());
}

void BM_Detector(benchmark::State& state) {
  const auto d = static_cast<Detector>(state.range(0));
  state.SetLabel(std::string(detector_name(d)));
  scan_corpus(state, DetectorSet{d});
}
BENCHMARK(BM_Detector)->DenseRange(0, static_cast<int>(kDetectorCount) - 1)->Unit(benchmark::kMillisecond);

void BM_DetectorSetAll(benchmark::State& state) { scan_corpus(state, DetectorSet::all()); }
BENCHMARK(BM_DetectorSetAll)->Unit(benchmark::kMillisecond);

// ---- rewriters ------------------------------------------------------------

// customers(id int8, name, email, ssn, card, phone, city, notes): 8 columns.
struct Rows {
  std::vector<std::string> bodies;
  size_t bytes = 0;
};

const Rows& customer_rows() {
  static const Rows rows = [] {
    Rows r;
    PiiGen g(7);
    for (int i = 0; i < 20000; ++i) {
      std::string body = testing::data_row({std::to_string(100000 + i), g.word(5) + " " + g.word(7), g.email(),
                                            g.ssn(), g.card(), g.phone(), "Berlin",
                                            "prefers e-mail, last order ORD-" + g.digits(6)});
      r.bytes += body.size();
      r.bodies.push_back(std::move(body));
    }
    return r;
  }();
  return rows;
}

RowPlan customer_plan(const MaskFunction& card_fn, bool detect_notes) {
  std::vector<ColumnRule> cols = {
      ColumnRule::pass_through(20),
      ColumnRule::pass_through(25),
      ColumnRule::masked(MaskFunction::email(), 25),
      ColumnRule::masked(MaskFunction::partial(0, 4), 25),
      ColumnRule::masked(card_fn, 25),
      ColumnRule::pass_through(25),
      ColumnRule::pass_through(25),
      detect_notes ? ColumnRule::detected(DetectorSet::all(), MaskFunction::redact(), 25) : ColumnRule::pass_through(25),
  };
  return RowPlan(std::move(cols));
}

void rewrite_rows(benchmark::State& state, const RowPlan& plan) {
  const Rows& rows = customer_rows();
  std::string out;
  out.reserve(1 << 16);
  for (auto _ : state) {
    for (const std::string& body : rows.bodies) {
      out.clear();
      Result<Rewrite> r = rewrite_data_row(body, plan, out);
      benchmark::DoNotOptimize(r);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.bodies.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rows.bytes));
}

void BM_DataRowNoMasking(benchmark::State& state) {
  rewrite_rows(state, RowPlan(std::vector<ColumnRule>(8, ColumnRule::pass_through(25))));
}
BENCHMARK(BM_DataRowNoMasking);

void BM_DataRow3of8Masked(benchmark::State& state) { rewrite_rows(state, customer_plan(MaskFunction::redact(), false)); }
BENCHMARK(BM_DataRow3of8Masked);

void BM_DataRow3of8MaskedWithHash(benchmark::State& state) {
  rewrite_rows(state, customer_plan(MaskFunction::hash(KeyedHash::create("bench-key").value()), false));
}
BENCHMARK(BM_DataRow3of8MaskedWithHash);

void BM_DataRow3of8MaskedPlusDetectors(benchmark::State& state) {
  rewrite_rows(state, customer_plan(MaskFunction::redact(), true));
}
BENCHMARK(BM_DataRow3of8MaskedPlusDetectors);

// Detectors on every column of a row of many types, as the engine plans a
// clean result under a detect rule: int4/timestamptz are never looked at,
// int8/numeric/text[]/record are scanned as one string each (parsed only on
// a hit), text and jsonb as before. One row in four carries a card number in
// its text[] column, so arrays are split and rebuilt that often.
const Rows& typed_rows(bool binary) {
  static Rows text_rows, binary_rows;
  Rows& r = binary ? binary_rows : text_rows;
  if (!r.bodies.empty()) return r;
  PiiGen g(11);
  for (int i = 0; i < 20000; ++i) {
    const std::string tag = i % 4 == 0 ? "paid with " + g.card() : "tag " + g.word(6);
    std::string tags;
    if (binary) {
      // int4 1-D array of three text elements, no NULLs.
      auto be32 = [](std::string& o, uint32_t v) {
        for (int k = 24; k >= 0; k -= 8) o.push_back(static_cast<char>(v >> k));
      };
      be32(tags, 1);
      be32(tags, 0);
      be32(tags, 25);
      be32(tags, 3);
      be32(tags, 1);
      for (const std::string& e : {std::string("alpha"), tag, g.word(4)}) {
        be32(tags, static_cast<uint32_t>(e.size()));
        tags += e;
      }
    } else {
      tags = "{alpha,\"" + tag + "\"," + g.word(4) + "}";
    }
    std::string body = testing::data_row({std::to_string(i), std::to_string(100000000000LL + i), "2024-05-01 12:00:00+00",
                                          g.word(5) + " " + g.word(7), tags, "(" + std::to_string(i) + "," + g.word(5) + ")",
                                          std::to_string(i) + ".25", "{\"k\": \"" + g.word(8) + "\"}"});
    r.bytes += body.size();
    r.bodies.push_back(std::move(body));
  }
  return r;
}

RowPlan typed_plan(int16_t format) {
  const uint32_t types[] = {23, 20, 1184, 25, 1009, 2249, 1700, 3802};
  std::vector<ColumnRule> cols;
  for (uint32_t t : types) {
    // Binary rows here only carry text[] in binary; the others stay text.
    cols.push_back(ColumnRule::detected(DetectorSet::all(), MaskFunction::redact(), t, t == 1009 ? format : kTextFormat));
  }
  return RowPlan(std::move(cols));
}

void rewrite_typed(benchmark::State& state, bool binary) {
  const Rows& rows = typed_rows(binary);
  const RowPlan plan = typed_plan(binary ? kBinaryFormat : kTextFormat);
  std::string out;
  for (auto _ : state) {
    for (const std::string& body : rows.bodies) {
      out.clear();
      Result<Rewrite> r = rewrite_data_row(body, plan, out);
      benchmark::DoNotOptimize(r);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * rows.bodies.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * rows.bytes));
}

void BM_DataRowDetectorsOnEveryType(benchmark::State& state) { rewrite_typed(state, false); }
BENCHMARK(BM_DataRowDetectorsOnEveryType);

void BM_DataRowDetectorsOnBinaryArrays(benchmark::State& state) { rewrite_typed(state, true); }
BENCHMARK(BM_DataRowDetectorsOnBinaryArrays);

void BM_CopyText3of8Masked(benchmark::State& state) {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> v;
    for (const std::string& body : customer_rows().bodies) {
      std::string line;
      const std::vector<testing::Field> fields = testing::parse_data_row(body);
      for (size_t i = 0; i < fields.size(); ++i) line += (i ? "\t" : "") + *fields[i];
      v.push_back(line + "\n");
    }
    return v;
  }();
  const RowPlan plan = customer_plan(MaskFunction::redact(), false);
  std::string out;
  size_t bytes = 0;
  for (const std::string& l : lines) bytes += l.size();
  for (auto _ : state) {
    for (const std::string& line : lines) {
      out.clear();
      Result<Rewrite> r = rewrite_copy_data(line, CopyFormat::text(), plan, out);
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * lines.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_CopyText3of8Masked);

}  // namespace
}  // namespace pgw::mask

BENCHMARK_MAIN();
