// The mask models of every policy, built off the loop threads and shared by
// all of them read-only.
//
// A model (policy::MaskModel) resolves a policy's mask rules against one
// catalog snapshot and traces every view and SQL function of it: on a schema
// with thousands of views that takes a while, so it is built where blocking
// does not matter — on the catalog thread when a snapshot arrives, and on
// the thread that reloads the config before the new config is published —
// once per (config generation, policy, snapshot). Loop threads only look
// models up. A lookup that misses (a snapshot and a reload crossing) builds
// on the asking thread and says so in the log; it is the exception.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "common/result.h"
#include "mask/keyed_hash.h"
#include "policy/catalog.h"
#include "policy/config.h"
#include "policy/mask_model.h"

namespace pgw::engine {

class MaskModelStore {
 public:
  using Model = Result<std::shared_ptr<const policy::MaskModel>>;

  // Builds the model of every policy of `config` on `upstream` that masks
  // something, against `catalog` (null: no snapshot could be loaded).
  void build(const policy::Config& config, uint64_t generation, const std::string& upstream,
             std::shared_ptr<const policy::Catalog> catalog);

  // The model of `policy` on this snapshot, built now if no other thread did
  // (logged). An error when it cannot be built: the caller refuses
  // statements rather than relay them unmasked.
  Model get(const policy::Config& config, uint64_t generation, const policy::Policy& policy,
            const std::shared_ptr<const policy::Catalog>& catalog);

  // Models of generations before `generation` are no longer asked for.
  void forget_before(uint64_t generation);

  size_t size() const;
  uint64_t built_on_demand() const;

 private:
  // Generation, policy (stable within its generation's config), snapshot version.
  using Key = std::tuple<uint64_t, const policy::Policy*, uint64_t>;
  static Key key_of(uint64_t generation, const policy::Policy& policy, const policy::Catalog* catalog);
  Model build_one(const policy::Config& config, uint64_t generation, const policy::Policy& policy,
                  const policy::Catalog* catalog);
  std::shared_ptr<const mask::KeyedHash> hash_key(const policy::Config& config, uint64_t generation);

  mutable std::mutex mu_;
  std::map<Key, Model> models_;
  uint64_t key_generation_ = 0;
  std::shared_ptr<const mask::KeyedHash> key_;
  uint64_t built_on_demand_ = 0;
};

}  // namespace pgw::engine
