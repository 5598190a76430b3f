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

Result<std::shared_ptr<MaskHandle>> MaskModels::get(const policy::Config& config, uint64_t config_generation,
                                            const policy::Policy& policy,
                                            std::shared_ptr<const policy::Catalog> catalog) {
  if (policy.mask.empty()) return std::shared_ptr<MaskHandle>();
  const Key key{config_generation, &policy, catalog ? catalog->version() : 0};
  if (auto it = handles_.find(key); it != handles_.end()) return it->second;
  if (handles_.size() >= kMaxHandles) handles_.clear();
  auto model = store_.get(config, config_generation, policy, catalog);
  if (!model) return Error{model.error()};
  auto handle = std::make_shared<MaskHandle>(std::move(catalog), std::move(*model));
  handles_.emplace(key, handle);
  return handle;
}

}  // namespace pgw::engine
