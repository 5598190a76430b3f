// The promise of the whole module, checked on many generated values: no
// masked output (from any mask function, through any rewriter path, or from
// the detectors on free text) contains the raw value.
#include <gtest/gtest.h>

#include <functional>

#include "mask/copy_rewriter.h"
#include "mask/data_row_rewriter.h"
#include "mask/detect_mask.h"
#include "mask/keyed_hash.h"
#include "pii_gen.h"
#include "row_bytes.h"

namespace pgw::mask {
namespace {

using testing::PiiGen;

std::vector<MaskFunction> all_functions() {
  std::vector<MaskFunction> fns = {MaskFunction::redact(),         MaskFunction::partial(0, 4),
                                   MaskFunction::partial(4, 0),    MaskFunction::partial(2, 2),
                                   MaskFunction::partial(50, 50),  MaskFunction::null(),
                                   MaskFunction::fixed("[masked]"), MaskFunction::email()};
  fns.push_back(MaskFunction::hash(KeyedHash::create("leak-test-key").value()));
  return fns;
}

std::vector<std::function<std::string(PiiGen&)>> generators() {
  return {[](PiiGen& g) { return g.ssn(); },   [](PiiGen& g) { return g.card(); },
          [](PiiGen& g) { return g.phone(); }, [](PiiGen& g) { return g.iban(); },
          [](PiiGen& g) { return g.email(); }, [](PiiGen& g) { return g.aws_key(); }};
}

bool contains(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

TEST(NoLeak, MaskFunctionsNeverReturnTheRawValue) {
  PiiGen gen(1);
  const std::vector<MaskFunction> fns = all_functions();
  for (int i = 0; i < 500; ++i) {
    for (auto& make : generators()) {
      const std::string raw = make(gen);
      for (const MaskFunction& fn : fns) {
        const std::optional<std::string> out = fn.apply(raw);
        if (out) {
          EXPECT_FALSE(contains(*out, raw)) << fn.describe() << " of " << raw << " gave " << *out;
        }
      }
    }
  }
}

TEST(NoLeak, DetectorsCatchEveryGeneratedValueInFreeText) {
  PiiGen gen(2);
  const std::vector<MaskFunction> fns = all_functions();
  const char* kTemplates[] = {"Customer note: %s, call back tomorrow.", "{\"pii\": \"%s\", \"n\": 3}", "%s",
                              "see (%s)", "Kunde: %s — erledigt"};
  for (int i = 0; i < 400; ++i) {
    for (auto& make : generators()) {
      const std::string raw = make(gen);
      for (const char* tmpl : kTemplates) {
        std::string text = tmpl;
        text.replace(text.find("%s"), 2, raw);
        for (const MaskFunction& fn : fns) {
          std::string masked = text;
          EXPECT_TRUE(mask_detected(masked, DetectorSet::all(), fn)) << text;
          EXPECT_FALSE(contains(masked, raw)) << fn.describe() << ": " << text << " -> " << masked;
        }
      }
    }
  }
}

TEST(NoLeak, DataRowsInEveryFormatAndType) {
  PiiGen gen(3);
  const std::vector<MaskFunction> fns = all_functions();
  const uint32_t kTypes[] = {25, 1043, 1042, 114, 3802, 20, 1700};
  for (int i = 0; i < 100; ++i) {
    for (auto& make : generators()) {
      const std::string raw = make(gen);
      for (const MaskFunction& fn : fns) {
        for (uint32_t oid : kTypes) {
          for (int16_t fmt : {kTextFormat, kBinaryFormat}) {
            const std::string value = (oid == 3802 && fmt == kBinaryFormat) ? "\x01\"" + raw + "\"" : raw;
            const RowPlan plan({ColumnRule::pass_through(25), ColumnRule::masked(fn, oid, fmt),
                                ColumnRule::detected(DetectorSet::all(), fn, oid, fmt)});
            std::string out;
            Result<Rewrite> r = rewrite_data_row(testing::data_row({"id-1", value, "note " + value}), plan, out);
            ASSERT_TRUE(r.ok()) << r.error();
            ASSERT_EQ(*r, Rewrite::rewritten);
            EXPECT_FALSE(contains(out, raw)) << fn.describe() << " oid " << oid << " fmt " << fmt << ": " << raw;
          }
        }
      }
    }
  }
}

TEST(NoLeak, CopyTextAndCsv) {
  PiiGen gen(4);
  const std::vector<MaskFunction> fns = all_functions();
  for (int i = 0; i < 200; ++i) {
    for (auto& make : generators()) {
      const std::string raw = make(gen);
      for (const MaskFunction& fn : fns) {
        const RowPlan plan({ColumnRule::pass_through(), ColumnRule::masked(fn),
                            ColumnRule::detected(DetectorSet::all(), fn)});
        std::string out;
        ASSERT_TRUE(rewrite_copy_data("7\t" + raw + "\tnote: " + raw + "\n", CopyFormat::text(), plan, out).ok());
        EXPECT_FALSE(contains(out, raw)) << fn.describe() << ": " << out;
        out.clear();
        ASSERT_TRUE(rewrite_copy_data("7,\"" + raw + "\",\"note, " + raw + "\"\n", CopyFormat::csv(), plan, out).ok());
        EXPECT_FALSE(contains(out, raw)) << fn.describe() << ": " << out;
      }
    }
  }
}

}  // namespace
}  // namespace pgw::mask
