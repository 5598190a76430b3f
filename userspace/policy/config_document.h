// The two steps of reading a parsed config document (internal to the loader).
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "policy/config.h"
#include "policy/config_reader.h"

namespace pgw::policy {

// Walks the document against the key table (config_keys.cpp) into `out`;
// ends with cross_check().
void read_config_document(ConfigReader& r, const YAML::Node& root, Config& out);

// The checks that span sections (config_cross_check.cpp): names are unique,
// references name something that exists, no policy is shadowed, explicit
// clients have an upstream, hash rules have a key; and the warnings.
void cross_check(ConfigReader& r, const YAML::Node& root, const std::string& path, Config& config);

}  // namespace pgw::policy
