// The masking half of `pgwarden policy explain`: what the policy's mask rules
// make of one SQL string — each result column traced to clean, tainted
// (masked whole) or untraceable (content detectors), whether it reads,
// filters on or writes masked values, and whether masking refuses it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/catalog.h"
#include "policy/config.h"
#include "policy/mask_model.h"
#include "sql/lineage.h"

namespace pgw::cli {

struct MaskingExplanation {
  bool applies = false;  // the policy has mask rules
  std::size_t rules = 0;
  std::string error;     // the rules or the statement could not be traced
  std::vector<sql::StatementLineage> statements;
  std::optional<policy::MaskDenial> denial;
  bool refuses() const { return applies && (denial.has_value() || !error.empty()); }
};

MaskingExplanation explain_masking(const policy::Config& config, const policy::Policy& policy,
                                   const policy::Catalog* catalog, std::string_view sql, const std::string& identity);
void print_masking(const MaskingExplanation& m, bool have_catalog);
nlohmann::json masking_json(const MaskingExplanation& m);

}  // namespace pgw::cli
