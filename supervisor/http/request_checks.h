// The RFC 9112/9110 checks the parser library (llhttp 8.1) does not make itself, applied
// to a request head it has already split: header-name tokens, the Host value, the request-target
// form, the request line's version part, and folded lines. Pure functions, unit-tested alone.
#pragma once

#include <string_view>

namespace isolated::http {

// RFC 9110 token (tchar+): header names and methods.
bool isToken(std::string_view s);
// RFC 9110 field-value: visible ASCII, obs-text, SP and HTAB (the parsers measured differ on
// control bytes; this is the one rule).
bool isFieldValue(std::string_view value);
// RFC 9112 §3.2 Host: uri-host [ ":" port ], where uri-host is a reg-name, an IPv4 address or a
// bracketed IP-literal. Empty is allowed (a request-target without an authority).
bool isValidHost(std::string_view host);
// origin-form ("/" ...), asterisk-form ("*", OPTIONS only), or absolute-form ("scheme://...");
// authority-form is refused since CONNECT is. No fragment ('#'), no byte outside 0x21-0x7E.
bool isValidTarget(std::string_view target, bool isOptions);
// The head from the start of its request line to its end: false when a line begins with SP or
// HTAB (obs-fold, or whitespace before the first field), when a CR or LF stands alone (llhttp
// lets "\r\n\r" end a head), or when the request line does not end in an HTTP-version
// (HTTP/0.9's "GET /"). `head` may be partial: a CR as its last byte is not judged yet.
bool headLinesValid(std::string_view head);
// Whether the first line of `head` is complete and lacks " HTTP/": an HTTP/0.9 request, which is
// answered at once instead of waiting for headers that will never come.
bool isHttp09RequestLine(std::string_view head);
// Transfer-Encoding values this layer accepts: exactly one coding, "chunked".
bool isChunkedOnly(std::string_view value);

}  // namespace isolated::http
