// FetchResponseHead: parsing libcurl's header lines into a fetch's response head.
#include "supervisor/fetch_response_head.h"

#include "ipc/protocol.h"
#include "supervisor/fetch_request.h"

namespace isolated::supervisor {

void FetchResponseHead::reset() {
  status = 0;
  statusText.clear();
  headers.clear();
  headerBytes = 0;
  hasLocation = false;
}

FetchResponseHead::Line FetchResponseHead::addLine(std::string_view line) {
  if (line.starts_with("HTTP/")) {
    // A new response (after 1xx ones): only the last one's headers count.
    headers.clear();
    headerBytes = 0;
    hasLocation = false;
    size_t first = line.find(' ');
    size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    statusText =
        second == std::string_view::npos ? "" : std::string(trimHttpSpace(line.substr(second)));
    return Line::kStatus;
  }
  std::string_view content = trimHttpSpace(line);
  if (content.empty()) return Line::kEnd;
  headerBytes += content.size();
  if (headers.size() >= ipc::kFetchMaxHeaders || headerBytes > ipc::kFetchMaxHeaderBytes) {
    return Line::kTooLarge;
  }
  if ((line.front() == ' ' || line.front() == '\t') && !headers.empty()) {
    headers.back().second += " ";
    headers.back().second += content;  // obsolete line folding
    return Line::kField;
  }
  size_t colon = content.find(':');
  if (colon == std::string_view::npos) return Line::kField;  // not a header; ignore it
  std::string name = lowerAscii(trimHttpSpace(content.substr(0, colon)));
  if (name == "location") hasLocation = true;
  headers.emplace_back(std::move(name), std::string(trimHttpSpace(content.substr(colon + 1))));
  return Line::kField;
}

}  // namespace isolated::supervisor
