// The checks that span sections, run once the whole document is read. Each
// message points at the place that is wrong (ConfigReader::written keeps
// where every key and list element was).
#include <algorithm>

#include "common/quote.h"
#include "mask/mask_function.h"
#include "policy/config_document.h"

namespace pgw::policy {
namespace {

template <typename Items>
std::string names_of(const Items& items) {
  std::string out;
  for (const auto& i : items) {
    if (i.name.empty()) continue;
    if (!out.empty()) out += ", ";
    out += i.name;
  }
  return out;
}

std::string line_of(const YAML::Node* node) { return std::to_string(node->Mark().line + 1); }

// Names of upstreams and identities are unique.
template <typename Items>
void check_unique_names(ConfigReader& r, const Items& items, const std::string& list, std::string_view what) {
  for (size_t i = 0; i < items.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (items[i].name.empty() || items[i].name != items[j].name) continue;
      r.error(*r.written(item_path(list, i)), item_path(list, i) + ".name",
              "duplicate " + std::string(what) + " name " + quote_for_message(items[i].name) + " (first at line " +
                  line_of(r.written(item_path(list, j))) + ")");
      break;
    }
  }
}

// Upstreams: not pgwarden itself, and no destination claimed twice.
void check_upstreams(ConfigReader& r, Config& config) {
  for (size_t i = 0; i < config.upstreams.size(); ++i) {
    const Upstream& u = config.upstreams[i];
    const std::string at = item_path("upstreams", i);
    const YAML::Node& node = *r.written(at);
    if (u.address == config.listen && u.address.port != 0) {
      r.error(node, at + ".address", u.address.to_string() + " is pgwarden's own listen address");
    }
    for (const NetPrefix& m : u.match) {
      for (size_t j = 0; j < i; ++j) {
        const auto& earlier = config.upstreams[j].match;
        if (std::find(earlier.begin(), earlier.end(), m) != earlier.end()) {
          r.error(node, at + ".match",
                  m.to_string() + " is already served by upstream " + quote_for_message(config.upstreams[j].name));
        }
      }
      const auto& ports = config.intercept.ports;
      if (config.intercept.enabled && m.port && std::find(ports.begin(), ports.end(), *m.port) == ports.end()) {
        r.warn(node, at + ".match",
               "port " + std::to_string(*m.port) + " is not in intercept.ports, so no connection to " +
                   m.to_string() + " is redirected");
      }
    }
    const auto& unix_paths = config.intercept.unix_paths;
    for (const std::string& path : u.match_unix) {
      for (size_t j = 0; j < i; ++j) {
        const auto& earlier = config.upstreams[j].match_unix;
        if (std::find(earlier.begin(), earlier.end(), path) != earlier.end()) {
          r.error(node, at + ".match",
                  path + " is already served by upstream " + quote_for_message(config.upstreams[j].name));
        }
      }
      if (std::find(unix_paths.begin(), unix_paths.end(), path) == unix_paths.end()) {
        r.warn(node, at + ".match", path + " is not in intercept.unix_paths, so no connection to it is redirected");
      }
    }
  }
}

// The upstream for explicit clients.
void check_explicit_upstream(ConfigReader& r, const YAML::Node& root, Config& config) {
  if (const YAML::Node* given = r.written("explicit_upstream")) {
    if (config.explicit_upstream && !config.find_upstream(*config.explicit_upstream)) {
      r.error(*given, "explicit_upstream",
              "no upstream is named " + quote_for_message(*config.explicit_upstream) + " (known: " +
                  names_of(config.upstreams) + ")");
    }
  } else if (config.upstreams.size() == 1) {
    config.explicit_upstream = config.upstreams.front().name;
  } else if (config.upstreams.size() > 1) {
    r.error(root, "explicit_upstream",
            "required with several upstreams: clients that connect to listen or unix_socket directly need one to "
            "go to (one of " + names_of(config.upstreams) + ")");
  }
}

// Policies refer to things that exist, none is shadowed by an earlier one,
// and hash rules have their key.
void check_policies(ConfigReader& r, const Config& config) {
  for (size_t i = 0; i < config.policies.size(); ++i) {
    const Policy& p = config.policies[i];
    const std::string path = item_path("policies", i);
    if (!p.identity.empty() && !config.find_identity(p.identity)) {
      r.error(*r.written(path + ".identity"), path + ".identity",
              "no identity is named " + quote_for_message(p.identity) + " (known: " + names_of(config.identities) +
                  ")");
    }
    if (p.upstream && !config.find_upstream(*p.upstream)) {
      r.error(*r.written(path + ".upstream"), path + ".upstream",
              "no upstream is named " + quote_for_message(*p.upstream) + " (known: " + names_of(config.upstreams) +
                  ")");
    }
    for (size_t j = 0; j < i; ++j) {
      const Policy& q = config.policies[j];
      if (p.identity.empty() || q.identity != p.identity) continue;
      if (!q.upstream || q.upstream == p.upstream) {
        r.error(*r.written(path), path,
                "never used: " + item_path("policies", j) + " already covers identity " +
                    quote_for_message(p.identity) +
                    (q.upstream ? " on upstream " + quote_for_message(*q.upstream) : std::string(" on every upstream")));
        break;
      }
    }
    for (size_t j = 0; j < p.mask.size(); ++j) {
      if (p.mask[j].with.kind != mask::MaskSpec::Kind::hash || r.written("mask_hash_key_file") != nullptr) continue;
      const std::string at = item_path(path + ".mask", j);
      r.error(*r.written(at), at, "the hash function needs a key: set mask_hash_key_file (a file holding a secret)");
    }
  }
}

void warn_identities_without_policy(ConfigReader& r, const Config& config) {
  for (size_t i = 0; i < config.identities.size(); ++i) {
    const auto& id = config.identities[i];
    const bool used = std::any_of(config.policies.begin(), config.policies.end(),
                                  [&](const Policy& p) { return p.identity == id.name; });
    if (!id.name.empty() && !used) {
      const std::string at = item_path("identities", i);
      r.warn(*r.written(at), at,
             "identity " + quote_for_message(id.name) + " has no policy, so its connections are refused");
    }
  }
}

}  // namespace

void cross_check(ConfigReader& r, const YAML::Node& root, const std::string&, Config& config) {
  if (const YAML::Node* upstreams = r.written("upstreams"); upstreams && upstreams->IsSequence() &&
                                                            upstreams->size() == 0) {
    r.error(*upstreams, "upstreams", "needs at least one upstream");
  }
  check_unique_names(r, config.upstreams, "upstreams", "upstream");
  check_unique_names(r, config.identities, "identities", "identity");
  check_upstreams(r, config);
  check_explicit_upstream(r, root, config);
  check_policies(r, config);
  warn_identities_without_policy(r, config);
}

}  // namespace pgw::policy
