#include "engine/mask_models.h"

#include <spdlog/spdlog.h>

namespace pgw::engine {

namespace {

// Statements differ per session in their literals; the cache holds the
// recent ones and starts over when full rather than tracking recency.
constexpr size_t kMaxLineages = 4096;
constexpr size_t kMaxHandles = 64;

}  // namespace

std::shared_ptr<const LineageList> MaskHandle::lineage(std::string_view sql, bool standard_conforming_strings) {
  std::string key;
  key.reserve(sql.size() + 1);
  key.push_back(standard_conforming_strings ? '1' : '0');
  key.append(sql);
  if (auto it = lineages_.find(key); it != lineages_.end()) return it->second;
  std::shared_ptr<const LineageList> traced;
  if (auto result = sql::trace_lineage(sql, model_->oracle(), standard_conforming_strings)) {
    traced = std::make_shared<const LineageList>(std::move(*result));
  }
  if (lineages_.size() >= kMaxLineages) lineages_.clear();
  lineages_.emplace(std::move(key), traced);
  return traced;
}

std::shared_ptr<const mask::KeyedHash> MaskModels::hash_key(const policy::Config& config,
                                                            uint64_t config_generation) {
  if (key_generation_ == config_generation) return key_;
  key_generation_ = config_generation;
  key_.reset();
  if (config.mask_hash_key) {
    auto key = mask::KeyedHash::create(config.mask_hash_key->reveal());
    if (key) {
      key_ = std::move(*key);
    } else {
      spdlog::error("masking: cannot set up the hash key: {}", key.error());
    }
  }
  return key_;
}

Result<std::shared_ptr<MaskHandle>> MaskModels::get(const policy::Config& config, uint64_t config_generation,
                                            const policy::Policy& policy,
                                            std::shared_ptr<const policy::Catalog> catalog) {
  if (policy.mask.empty()) return std::shared_ptr<MaskHandle>();
  const Key key{config_generation, &policy, catalog ? catalog->version() : 0};
  if (auto it = handles_.find(key); it != handles_.end()) return it->second;
  if (handles_.size() >= kMaxHandles) handles_.clear();
  auto model = policy::MaskModel::build(policy, catalog.get(), hash_key(config, config_generation));
  if (!model) {
    // Without a model nothing could be masked: the session refuses
    // statements (and says why) rather than relay them unmasked. A model
    // built without the snapshot is no way out: the gate still resolves
    // tables with it, and a plain column of a masked table would pass.
    spdlog::error("masking: rules of identity {} cannot be applied: {}", policy.identity, model.error());
    return Error{"pgwarden: the mask rules of identity " + policy.identity + " cannot be applied (see pgwarden's log)"};
  }
  auto handle = std::make_shared<MaskHandle>(std::move(catalog), std::move(*model));
  handles_.emplace(key, handle);
  return handle;
}

}  // namespace pgw::engine
