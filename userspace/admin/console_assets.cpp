#include "admin/console_assets.h"

#include <cstddef>

namespace pgw::admin {

namespace embedded {  // console_assets_data.cpp, generated at build time
extern const unsigned char index_html[];
extern const std::size_t index_html_size;
extern const unsigned char console_js[];
extern const std::size_t console_js_size;
extern const unsigned char console_css[];
extern const std::size_t console_css_size;
}  // namespace embedded

namespace {

std::string_view view(const unsigned char* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace

std::optional<ConsoleAsset> console_asset(std::string_view path) {
  if (auto end = path.find_first_of("?#"); end != std::string_view::npos) path = path.substr(0, end);
  if (path == "/" || path == "/index.html")
    return ConsoleAsset{"text/html; charset=utf-8", view(embedded::index_html, embedded::index_html_size)};
  if (path == "/console.js")
    return ConsoleAsset{"text/javascript; charset=utf-8", view(embedded::console_js, embedded::console_js_size)};
  if (path == "/console.css")
    return ConsoleAsset{"text/css; charset=utf-8", view(embedded::console_css, embedded::console_css_size)};
  return std::nullopt;
}

}  // namespace pgw::admin
