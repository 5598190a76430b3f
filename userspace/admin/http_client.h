// A small blocking HTTP client over libcurl: the CLI asks the daemon over its
// unix socket, the webhook notifier posts to a URL. One call, one request, no
// connection reuse: both are rare enough that simplicity wins.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace pgw::admin {

// Either a unix socket (the daemon's admin API) or an http(s) URL base such as
// "https://hooks.example.com/pgwarden" that the request's path is appended to.
struct HttpTarget {
  std::string unix_socket;
  std::string base_url;

  static HttpTarget unix_path(std::string path) { return {std::move(path), {}}; }
  static HttpTarget url(std::string base) { return {{}, std::move(base)}; }
  // For messages and logs: the socket path, or the URL without credentials,
  // path and query (a webhook URL's path is often its secret).
  std::string describe() const;
};

struct HttpReply {
  int status = 0;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Sends one request and waits for the whole answer. An HTTP error status is a
// reply, not an error: the error side is for "no answer" (cannot connect,
// timed out, TLS failure, answer too large), as one sentence.
Result<HttpReply> http_request(const HttpTarget& target, std::string_view method, std::string_view path,
                               std::string_view body = {}, const HttpHeaders& headers = {},
                               std::chrono::milliseconds timeout = std::chrono::seconds(10));

// "https://user:pw@host:8443/services/T0/B0/XyZ?x=1" -> "https://host:8443/…".
// Unparseable input gives "(invalid URL)", never the input itself.
std::string redact_url(std::string_view url);

}  // namespace pgw::admin
