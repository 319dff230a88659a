// Reason phrases for the status line (RFC 9110 §15), and the text of the short bodies the layer
// sends with its own error answers.
#pragma once

#include <string_view>

namespace isolated::http {

// "OK" for 200 and so on; "Unknown" for a code without a registered phrase.
std::string_view statusText(int status);

}  // namespace isolated::http
