#include "engine/mask_model_store.h"

#include <spdlog/spdlog.h>

namespace pgw::engine {

namespace {

// Snapshots refresh every minute and after DDL: older ones of a policy are
// dropped past this many, so the map stays small whatever the uptime.
constexpr size_t kSnapshotsPerPolicy = 4;

}  // namespace

MaskModelStore::Key MaskModelStore::key_of(uint64_t generation, const policy::Policy& policy,
                                           const policy::Catalog* catalog) {
  return {generation, &policy, catalog ? catalog->version() : 0};
}

std::shared_ptr<const mask::KeyedHash> MaskModelStore::hash_key(const policy::Config& config, uint64_t generation) {
  if (key_generation_ == generation && key_generation_ != 0) return key_;
  key_generation_ = generation;
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

MaskModelStore::Model MaskModelStore::build_one(const policy::Config& config, uint64_t generation,
                                                const policy::Policy& policy, const policy::Catalog* catalog) {
  std::shared_ptr<const mask::KeyedHash> key;
  {
    std::lock_guard lock(mu_);
    key = hash_key(config, generation);
  }
  auto model = policy::MaskModel::build(policy, catalog, key);
  if (!model) {
    // Without a model nothing could be masked: sessions refuse statements
    // (and say why) rather than relay them unmasked. A model built without
    // the snapshot is no way out: the gate still resolves tables with it,
    // and a plain column of a masked table would pass.
    spdlog::error("masking: rules of identity {} cannot be applied: {}", policy.identity, model.error());
    return Error{"pgwarden: the mask rules of identity " + policy.identity + " cannot be applied (see pgwarden's log)"};
  }
  return std::move(*model);
}

void MaskModelStore::build(const policy::Config& config, uint64_t generation, const std::string& upstream,
                           std::shared_ptr<const policy::Catalog> catalog) {
  for (const policy::Policy& p : config.policies) {
    if ((p.upstream && *p.upstream != upstream) || p.mask.empty()) continue;
    const Key key = key_of(generation, p, catalog.get());
    {
      std::lock_guard lock(mu_);
      if (models_.count(key)) continue;
    }
    Model model = build_one(config, generation, p, catalog.get());
    std::lock_guard lock(mu_);
    models_.emplace(key, std::move(model));
    // Keep the newest few snapshots of this policy and generation.
    size_t kept = 0;
    for (auto it = models_.end(); it != models_.begin();) {
      --it;
      const auto& [g, policy, version] = it->first;
      if (g != generation || policy != &p) continue;
      if (++kept > kSnapshotsPerPolicy) it = models_.erase(it);
    }
  }
}

MaskModelStore::Model MaskModelStore::get(const policy::Config& config, uint64_t generation,
                                          const policy::Policy& policy,
                                          const std::shared_ptr<const policy::Catalog>& catalog) {
  const Key key = key_of(generation, policy, catalog.get());
  {
    std::lock_guard lock(mu_);
    if (auto it = models_.find(key); it != models_.end()) return it->second;
    ++built_on_demand_;
  }
  spdlog::warn("masking: the model of identity {} was not built ahead (a snapshot and a reload crossed); "
               "building it on a loop thread",
               policy.identity);
  Model model = build_one(config, generation, policy, catalog.get());
  std::lock_guard lock(mu_);
  return models_.emplace(key, std::move(model)).first->second;
}

void MaskModelStore::forget_before(uint64_t generation) {
  std::lock_guard lock(mu_);
  std::erase_if(models_, [&](const auto& entry) { return std::get<0>(entry.first) < generation; });
}

size_t MaskModelStore::size() const {
  std::lock_guard lock(mu_);
  return models_.size();
}

uint64_t MaskModelStore::built_on_demand() const {
  std::lock_guard lock(mu_);
  return built_on_demand_;
}

}  // namespace pgw::engine
