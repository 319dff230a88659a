// FetchRequest: checking a worker's FetchStart and the Fetch spec's redirect rewrites.
#include "supervisor/fetch_request.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>

#include "ipc/protocol.h"

namespace isolated::supervisor {

namespace {

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};
struct CurlFreeDeleter {
  void operator()(char* text) const { curl_free(text); }
};
using CurlCharPtr = std::unique_ptr<char, CurlFreeDeleter>;

bool isToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) ||
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
  });
}

bool isHeaderValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

std::optional<std::string> httpOrigin(const std::string& url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed || curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return std::nullopt;
  }
  char* raw = nullptr;
  if (curl_url_get(parsed.get(), CURLUPART_SCHEME, &raw, 0) != CURLUE_OK) return std::nullopt;
  CurlCharPtr scheme(raw);
  std::string origin = scheme.get();
  if (origin != "http" && origin != "https") return std::nullopt;
  if (curl_url_get(parsed.get(), CURLUPART_HOST, &raw, 0) != CURLUE_OK) return std::nullopt;
  CurlCharPtr host(raw);
  if (curl_url_get(parsed.get(), CURLUPART_PORT, &raw, CURLU_DEFAULT_PORT) != CURLUE_OK) {
    return std::nullopt;
  }
  CurlCharPtr port(raw);
  return origin + "://" + host.get() + ":" + port.get();
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trimHttpSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool isComputedHeader(const std::string& lowerName) {
  return lowerName == "host" || lowerName == "content-length" || lowerName == "connection" ||
         lowerName == "transfer-encoding" || lowerName == "expect" || lowerName == "keep-alive" ||
         lowerName == "te" || lowerName == "upgrade";
}

bool isRedirectStatus(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::optional<FetchRequest> tryParseFetchStart(ipc::FetchStart::Reader start, std::string& error) {
  std::string url = start.getUrl();
  if (url.size() > ipc::kFetchMaxUrlBytes) {
    error = "fetch URL is longer than " + std::to_string(ipc::kFetchMaxUrlBytes) + " bytes";
    return std::nullopt;
  }
  if (!httpOrigin(url)) {
    error = "fetch to " + url + " refused: only absolute http: and https: URLs can be fetched";
    return std::nullopt;
  }
  std::string method = start.getMethod();
  if (!isToken(method)) {
    error = "invalid fetch method '" + method + "'";
    return std::nullopt;
  }
  auto headers = start.getHeaders();
  if (headers.size() > ipc::kFetchMaxHeaders) {
    error = "fetch has more than " + std::to_string(ipc::kFetchMaxHeaders) + " headers";
    return std::nullopt;
  }
  FetchRequest request;
  size_t headerBytes = 0;
  for (auto header : headers) {
    auto nameText = header.getName();
    auto valueText = header.getValue();
    std::string_view name(nameText.cStr(), nameText.size());
    std::string_view value(valueText.cStr(), valueText.size());
    headerBytes += name.size() + value.size();
    if (!isToken(name) || !isHeaderValue(value)) {
      error = "invalid fetch header '" + std::string(name) + "'";
      return std::nullopt;
    }
    request.headers.emplace_back(lowerAscii(name), std::string(trimHttpSpace(value)));
  }
  if (headerBytes > ipc::kFetchMaxHeaderBytes) {
    error = "fetch headers exceed " + std::to_string(ipc::kFetchMaxHeaderBytes) + " bytes";
    return std::nullopt;
  }
  auto body = start.getBody();
  if (start.getBodyFollows()) {
    if (body.size() > 0 || method == "GET" || method == "HEAD") {
      error = "fetch has a streamed body and also an inline one, or a GET/HEAD method";
      return std::nullopt;
    }
    request.streamed = true;
    for (const auto& [name, value] : request.headers) {
      if (name != "content-length") continue;
      char* end = nullptr;
      long long length = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || length < 0) {
        error = "invalid fetch Content-Length '" + value + "'";
        return std::nullopt;
      }
      request.uploadLength = static_cast<curl_off_t>(length);
    }
  }
  if (body.size() > ipc::kFetchMaxRequestBodyBytes) {
    error =
        "fetch request body exceeds " + std::to_string(ipc::kFetchMaxRequestBodyBytes) + " bytes";
    return std::nullopt;
  }
  request.parentId = start.getParentId();
  request.method = std::move(method);
  request.url = std::move(url);
  request.body.assign(reinterpret_cast<const char*>(body.begin()), body.size());
  request.mode = start.getRedirect();
  return request;
}

bool FetchRequest::redirectDropsBody(long status) const {
  return (status == 303 && method != "GET" && method != "HEAD") ||
         ((status == 301 || status == 302) && method == "POST");
}

void FetchRequest::dropBodyForRedirect() {
  method = "GET";
  body.clear();
  std::erase_if(headers, [](const auto& h) {
    return h.first == "content-type" || h.first == "content-encoding" ||
           h.first == "content-language" || h.first == "content-location";
  });
}

void FetchRequest::dropCredentials() {
  std::erase_if(headers, [](const auto& h) { return h.first == "authorization"; });
}

}  // namespace isolated::supervisor
