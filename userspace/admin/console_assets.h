// The web console's files (index.html, console.js, console.css), embedded in
// the binary at build time from userspace/admin/console/ (console_embed.cmake).
// The page is plain HTML/JS/CSS with no inline script or style, so it runs
// under the strict Content-Security-Policy the HTTP server sends with it.
#pragma once

#include <optional>
#include <string_view>

namespace pgw::admin {

struct ConsoleAsset {
  std::string_view content_type;  // with charset=utf-8
  std::string_view body;          // static storage: valid for the whole run
};

// The file served at `path`: "/" and "/index.html" (the page), "/console.js",
// "/console.css". A query string or fragment is ignored. Anything else:
// nullopt (the caller answers 404).
std::optional<ConsoleAsset> console_asset(std::string_view path);

}  // namespace pgw::admin
