// FetchRequest: what a worker's FetchStart asks the supervisor to fetch, once checked against
// ipc/protocol.h's limits and HTTP's syntax, and how a redirect rewrites it (the Fetch spec's
// HTTP-redirect fetch). Plain data and pure functions: FetchClient performs the transfer.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ipc/messages.capnp.h"

namespace isolated::supervisor {

struct FetchRequest {
  uint64_t parentId = 0;
  std::string method;
  // Absolute, http: or https: (checked by tryParseFetchStart and on every redirect).
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  ipc::FetchStart::RedirectMode mode = ipc::FetchStart::RedirectMode::FOLLOW;
  // bodyFollows: the body comes in FetchUpload chunks (and `body` is empty).
  bool streamed = false;
  std::optional<curl_off_t> uploadLength;  // the script's Content-Length of a streamed body

  // Whether a redirect with `status` turns the request into a GET without its body: 303 for
  // anything but GET/HEAD, 301/302 for POST.
  bool redirectDropsBody(long status) const;
  // That rewrite: GET, no body and no headers describing it. A streamed body is the caller's.
  void dropBodyForRedirect();
  // Before a redirect to another origin: credentials are not handed to it.
  void dropCredentials();
};

// The request a FetchStart describes; nullopt with `error` (the FetchFailed message) when it
// breaks a limit or HTTP's syntax.
std::optional<FetchRequest> tryParseFetchStart(ipc::FetchStart::Reader start, std::string& error);

// "scheme://host:port" of an absolute http(s) URL; nullopt for anything else.
std::optional<std::string> httpOrigin(const std::string& url);
// Headers libcurl computes itself from the request; a script's values for them are dropped.
bool isComputedHeader(const std::string& lowerName);
bool isRedirectStatus(long status);
// `s` without the spaces and tabs around it (and a header line's CR LF).
std::string_view trimHttpSpace(std::string_view s);
std::string lowerAscii(std::string_view s);

}  // namespace isolated::supervisor
