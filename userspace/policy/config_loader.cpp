// Turns the YAML text into a Config. The text is bounded before yaml-cpp
// sees it; the document is then walked against the key table
// (config_keys.cpp), which records every problem with its file:line:column
// and key path and carries on, so an operator fixes a file in one pass.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "audit/sha256.h"
#include "policy/config.h"
#include "policy/config_document.h"
#include "policy/config_reader.h"

namespace pgw::policy {
namespace {

// yaml-cpp's parser recurses per nesting level; refuse pathological nesting
// before handing it the text.
constexpr size_t kMaxNesting = 64;
constexpr size_t kMaxConfigBytes = 4u << 20;

// A rough pre-scan for nesting depth: flow brackets and block indentation
// both count. It may overestimate (brackets inside quoted strings), which only
// matters for files no operator writes.
bool nesting_too_deep(std::string_view text) {
  size_t depth = 0, max_depth = 0;
  for (char c : text) {
    if (c == '[' || c == '{') max_depth = std::max(max_depth, ++depth);
    if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  if (max_depth > kMaxNesting) return true;
  // Block nesting: "- - - - x" nests a list per dash, and indentation nests
  // mappings; both are bounded by the number of leading structure characters.
  size_t line_start = 0;
  while (line_start < text.size()) {
    size_t end = text.find('\n', line_start);
    if (end == std::string_view::npos) end = text.size();
    size_t structure = 0;
    for (size_t i = line_start; i < end; ++i) {
      char c = text[i];
      if (c == ' ' || c == '\t' || c == '-' || c == '?' || c == ':') ++structure;
      else break;
    }
    if (structure > 4 * kMaxNesting) return true;
    line_start = end + 1;
  }
  return false;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Result<Config> load_config_string(std::string_view text, const std::string& name_for_errors,
                                  const std::string& base_dir) {
  if (text.size() > kMaxConfigBytes) {
    return make_error(name_for_errors + ": larger than " + std::to_string(kMaxConfigBytes >> 20) +
                      " MiB; is it the right file?");
  }
  if (nesting_too_deep(text)) {
    return make_error(name_for_errors + ": nested deeper than " + std::to_string(kMaxNesting) +
                      " levels; refusing to parse it");
  }
  ConfigReader reader(name_for_errors, base_dir);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    reader.error_at(e.mark, "", "YAML syntax: " + e.msg);
    return make_error(reader.report());
  }
  Config config;
  config.source = name_for_errors;
  config.sha256 = audit::Sha256().tagged_hex(text);
  if (root.IsNull()) {
    reader.error(root, "", "the config is empty");
    return make_error(reader.report());
  }
  try {
    read_config_document(reader, root, config);
  } catch (const YAML::Exception& e) {
    // yaml-cpp throws on a few malformed trees (e.g. a bad alias); report it
    // like any other error rather than letting it escape.
    reader.error_at(e.mark, "", "YAML: " + e.msg);
  }
  if (reader.failed()) return make_error(reader.report());
  config.warnings = reader.take_warnings();
  return config;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open: " + std::strerror(errno));
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return make_error(path + ": cannot read: " + std::strerror(errno));
  text.resize(static_cast<size_t>(in.gcount()));
  return load_config_string(text, path, dir_of(path));
}

}  // namespace pgw::policy
