// The URL a request's script sees, from its request-target and Host: the target split into
// authority and path (origin-, absolute- and asterisk-form), and the check that a Host the
// layer accepted (request_checks.h, RFC 9112 syntax) also makes a URL whose host the WHATWG URL
// parser keeps as written, so that the host and path the supervisor routed are the ones the
// script reads (a Host of `a%2fadmin` would otherwise be decoded to `a/admin`, and `1.2.3.999`
// or a port over 65535 would fail to parse). Pure functions.
#pragma once

#include <string_view>

namespace isolated::http {

struct TargetParts {
  // False for an absolute-form target whose scheme is not http or https, or whose authority is
  // not a host that fits a URL (hostFitsUrl).
  bool valid = true;
  // Absolute-form: the target carries its own authority (it wins over the Host header).
  bool hasAuthority = false;
  std::string_view authority;
  // The path and query: the target itself in origin-form, "/" for asterisk-form (OPTIONS *),
  // and what follows the authority in absolute-form ("/" when nothing does).
  std::string_view pathAndQuery;
};

// `target` has passed isValidTarget() (request_checks.h).
TargetParts splitTarget(std::string_view target);

// `host` has passed isValidHost(): no percent-encoding, an IP-literal of hex digits, ':' and
// '.', a name, a port of at most 65535, and a name whose last label is numeric only when the
// whole name is a dotted-quad IPv4 address without leading zeros (which the parser reads as octal).
bool hostFitsUrl(std::string_view host);

}  // namespace isolated::http
