// The planner's statistics: views and catalogs whose value columns hold
// sample values (most common values, histogram bounds) of every analyzed
// column of every table. Masking masks those columns (mask_model.cpp);
// table rules count a read of them as a read of every table (decision.cpp).
#pragma once

#include <string_view>

namespace pgw::policy {

inline constexpr std::string_view kStatisticsRelations[] = {"pg_stats", "pg_stats_ext", "pg_stats_ext_exprs",
                                                            "pg_statistic", "pg_statistic_ext_data"};

inline bool is_statistics_relation(std::string_view schema, std::string_view name) {
  if (schema != "pg_catalog") return false;
  for (std::string_view s : kStatisticsRelations)
    if (s == name) return true;
  return false;
}

}  // namespace pgw::policy
