// The mask models one loop thread's sessions use, and the lineage of the
// statements they sent under each.
//
// The models themselves (policy::MaskModel) are built off the loop threads
// and shared read-only (mask_model_store.h); a thread wraps each in a handle
// with its own lineage cache, so an entry can never be reused under
// different rules or a different catalog, and no lock is taken per
// statement. A reload or a fresh snapshot makes the next statement pick up a
// new handle.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "engine/mask_model_store.h"
#include "policy/catalog.h"
#include "policy/config.h"
#include "policy/mask_model.h"
#include "sql/lineage.h"

namespace pgw::engine {

using LineageList = std::vector<sql::StatementLineage>;

// One model and what it was built from. Used by one loop thread only.
class MaskHandle {
 public:
  MaskHandle(std::shared_ptr<const policy::Catalog> catalog, std::shared_ptr<const policy::MaskModel> model)
      : catalog_(std::move(catalog)), model_(std::move(model)) {}

  const policy::MaskModel& model() const { return *model_; }
  const policy::Catalog* catalog() const { return catalog_.get(); }

  // The lineage of a SQL text under this model; null when the text does not
  // parse (then nothing about its results is known, and every computed
  // column is masked).
  std::shared_ptr<const LineageList> lineage(std::string_view sql, bool standard_conforming_strings);

 private:
  std::shared_ptr<const policy::Catalog> catalog_;
  std::shared_ptr<const policy::MaskModel> model_;
  // Key: one byte for standard_conforming_strings, then the text.
  std::unordered_map<std::string, std::shared_ptr<const LineageList>> lineages_;
};

class MaskModels {
 public:
  explicit MaskModels(MaskModelStore& store) : store_(store) {}

  // The handle for this policy on this snapshot; null when the policy masks
  // nothing (no column rule, no detector); an error when the model cannot
  // be built, and then the caller must refuse statements rather than relay
  // them unmasked.
  Result<std::shared_ptr<MaskHandle>> get(const policy::Config& config, uint64_t config_generation,
                                  const policy::Policy& policy, std::shared_ptr<const policy::Catalog> catalog);

 private:
  using Key = std::tuple<uint64_t, const policy::Policy*, uint64_t>;  // generation, policy, catalog version
  MaskModelStore& store_;
  std::map<Key, std::shared_ptr<MaskHandle>> handles_;
};

}  // namespace pgw::engine
