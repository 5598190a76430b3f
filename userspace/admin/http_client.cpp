#include "admin/http_client.h"

#include <curl/curl.h>

#include <cstring>
#include <memory>
#include <mutex>

namespace pgw::admin {

namespace {

// Neither the CLI nor the webhook expects answers this large; a peer that
// sends more is cut off rather than filling memory.
constexpr size_t kMaxReply = 16 * 1024 * 1024;

// curl_global_init must run once before any handle, and (for older curls)
// not concurrently with other threads using curl.
void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
  void operator()(char* s) const { curl_free(s); }
};
template <typename T>
using CurlPtr = std::unique_ptr<T, CurlDeleter>;

struct Sink {
  std::string body;
  bool too_large = false;
};

size_t write_body(char* data, size_t size, size_t count, void* userdata) {
  auto* sink = static_cast<Sink*>(userdata);
  size_t n = size * count;
  if (sink->body.size() + n > kMaxReply) {
    sink->too_large = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  sink->body.append(data, n);
  return n;
}

std::string url_part(CURLU* u, CURLUPart part) {
  char* raw = nullptr;
  if (curl_url_get(u, part, &raw, 0) != CURLUE_OK || raw == nullptr) return {};
  CurlPtr<char> owned(raw);
  return raw;
}

}  // namespace

std::string redact_url(std::string_view url) {
  CurlPtr<CURLU> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) return "(invalid URL)";
  std::string out = url_part(u.get(), CURLUPART_SCHEME) + "://" + url_part(u.get(), CURLUPART_HOST);
  if (std::string port = url_part(u.get(), CURLUPART_PORT); !port.empty()) out += ":" + port;
  std::string path = url_part(u.get(), CURLUPART_PATH);
  std::string query = url_part(u.get(), CURLUPART_QUERY);
  if ((!path.empty() && path != "/") || !query.empty()) out += "/…";
  return out;
}

std::string HttpTarget::describe() const { return unix_socket.empty() ? redact_url(base_url) : unix_socket; }

Result<HttpReply> http_request(const HttpTarget& target, std::string_view method, std::string_view path,
                               std::string_view body, const HttpHeaders& headers,
                               std::chrono::milliseconds timeout) {
  global_init();
  CurlPtr<CURL> curl(curl_easy_init());
  if (!curl) return make_error("cannot make an HTTP request: curl_easy_init failed");
  CURL* c = curl.get();
  const bool unix_socket = !target.unix_socket.empty();

  // The host name of a unix-socket URL only fills the Host header.
  std::string url = (unix_socket ? std::string("http://localhost") : target.base_url) + std::string(path);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (unix_socket) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, target.unix_socket.c_str());
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // an http_proxy variable must not divert the daemon's socket
  }
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: we run in threads
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));

  std::string method_str(method);
  if (method_str == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (method_str == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else {
    // POSTFIELDS with a null pointer would mean "use the read callback".
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_str.c_str());
  }

  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) list = curl_slist_append(list, (name + ": " + value).c_str());
  // No `Expect: 100-continue` round trip: our bodies are small.
  list = curl_slist_append(list, "Expect:");
  CurlPtr<curl_slist> header_list(list);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);

  Sink sink;
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) {
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return HttpReply{static_cast<int>(status), std::move(sink.body)};
  }

  std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
  std::string where = unix_socket ? "the pgwarden daemon at " + target.unix_socket : target.describe();
  if (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST) {
    // For a unix socket the OS error ("Connection refused", "No such file or
    // directory", "Permission denied") says more than curl's "port 80" text.
    long os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    if (unix_socket && os_errno != 0) detail = std::strerror(static_cast<int>(os_errno));
    return make_error("cannot reach " + where + ": " + detail);
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return make_error("no answer from " + where + " within " + std::to_string(timeout.count()) + " ms: " + detail);
  }
  if (rc == CURLE_WRITE_ERROR && sink.too_large) {
    return make_error("the answer from " + where + " is larger than " + std::to_string(kMaxReply) + " bytes");
  }
  return make_error("HTTP request to " + where + " failed: " + detail);
}

}  // namespace pgw::admin
