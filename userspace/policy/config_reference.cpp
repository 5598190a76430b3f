// The key table as Markdown: the generated part of docs/configuration.md.
#include <string>

#include "policy/config_keys.h"

namespace pgw::policy {
namespace {

// A table cell: '|' would end it.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// Built by appending: GCC 12 misreads `"x" + std::string` as an overlapping
// copy at -O3 (-Wrestrict, GCC bug 105329).
std::string wrapped(char mark, std::string_view text) {
  std::string out(1, mark);
  out += cell(text);
  out += mark;
  return out;
}

std::string default_cell(const KeyDoc& k) {
  if (!k.supported || k.fallback.empty()) return "";
  if (k.fallback == "required") return "**required**";
  if (k.fallback.front() == '(') return wrapped('_', std::string_view(k.fallback).substr(1, k.fallback.size() - 2));
  return wrapped('`', k.fallback);
}

std::string row(const KeyDoc& k) {
  std::string out = "| `";
  out += k.path;
  out += "` | ";
  out += cell(k.type);
  out += " | ";
  out += default_cell(k);
  out += " | ";
  out += !k.supported ? "" : k.restart ? "restart" : "applies";
  out += " | ";
  if (!k.supported) out += "**Not supported yet**: refused. ";
  out += cell(k.doc);
  out += " |\n";
  return out;
}

constexpr std::string_view kHeader =
    "| Key | Type | Default | On reload | Meaning |\n"
    "| --- | --- | --- | --- | --- |\n";

// The top-level key a path belongs to: "upstreams" for "upstreams[].tls".
std::string top_of(const std::string& path) { return path.substr(0, path.find_first_of(".[")); }

}  // namespace

std::string render_config_reference() {
  const std::vector<KeyDoc> keys = config_reference();
  std::string out = "### Top level\n\n";
  out += kHeader;
  for (const KeyDoc& k : keys) {
    if (k.path.find_first_of(".[") == std::string::npos) out += row(k);
  }
  // Then one table per top-level section, in table order.
  std::string current;
  for (const KeyDoc& k : keys) {
    if (k.path.find_first_of(".[") == std::string::npos) continue;
    const std::string top = top_of(k.path);
    if (top != current) {
      current = top;
      out += "\n### `";
      out += top;
      out += "`\n\n";
      out += kHeader;
    }
    out += row(k);
  }
  return out;
}

}  // namespace pgw::policy
