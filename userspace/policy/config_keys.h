// The config file's keys as data: the reference the documentation is checked
// against (docs/configuration.md), and what a reload can and cannot change.
// Every key is declared once, in config_keys.cpp, with its type, default,
// check and doc string; the loader walks the YAML against that same table.
#pragma once

#include <string>
#include <vector>

#include "policy/config.h"

namespace pgw::policy {

// One key of the file, as the reference shows it.
struct KeyDoc {
  std::string path;      // "upstreams[].tls", "intercept.ports", "listen"
  std::string type;      // "duration", "`closed` | `open`", "list of mappings"
  std::string fallback;  // the default as the file would write it; "required"; "" none
  std::string doc;       // what it means
  bool supported = true; // false: part of the file format, refused as "not supported yet"
  bool restart = false;  // a change takes effect only when pgwarden restarts
  // Empty when the documented default is what the loader really gives when
  // the key is left out (checked by reading `fallback` with the key's own
  // reader), or when the default is a description rather than a value.
  std::string default_mismatch;
};

// Every key, sections before their keys, in table order.
std::vector<KeyDoc> config_reference();

// The reference as the Markdown tables of docs/configuration.md.
std::string render_config_reference();

// The keys whose change a reload cannot apply (pgwarden keeps the running
// value until it restarts) and whose value differs between `running` and
// `loaded`, e.g. {"listen", "intercept"}.
std::vector<std::string> restart_only_changes(const Config& running, const Config& loaded);

}  // namespace pgw::policy
