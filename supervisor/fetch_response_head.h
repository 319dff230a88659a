// FetchResponseHead: the head of the response an outbound fetch is receiving, parsed from the
// header lines libcurl hands FetchClient (status line, fields, the blank line that ends it).
//
// Invariants: only the last response's fields are kept (1xx heads are replaced by the head
// that follows); the fields stay within ipc::kFetchMaxHeaders and kFetchMaxHeaderBytes (a line
// beyond is refused, and the fetch fails). Field names are lower-cased, values trimmed, obsolete
// line folding joined with a space. Threading: the supervisor's loop thread only.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace isolated::supervisor {

struct FetchResponseHead {
  // What a header line was.
  enum class Line {
    kStatus,    // a status line: a new response begins
    kField,     // a field (or something ignored)
    kEnd,       // the blank line: the head is complete (status is the caller's to read)
    kTooLarge,  // beyond the limits: the fetch must fail
  };

  long status = 0;
  std::string statusText;
  std::vector<std::pair<std::string, std::string>> headers;
  size_t headerBytes = 0;
  bool hasLocation = false;

  // Before each hop: a new transfer, a new head.
  void reset();
  // One header line as libcurl delivers it (with its CR LF).
  Line addLine(std::string_view line);
};

}  // namespace isolated::supervisor
