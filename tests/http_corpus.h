// A deterministic corpus of HTTP/1.1 requests for the differential test and the fuzz target's
// seeds: valid requests, and mutations of them (bytes replaced, inserted and deleted; header
// lines added, repeated and changed; versions, methods and chunk sizes swapped) from a fixed
// seed, so every run sees the same inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace isolated::http::testing {

// The valid requests the mutations start from.
std::vector<std::string> seedRequests();
// `count` requests: the seeds first, then mutations of them drawn with `seed`.
std::vector<std::string> mutatedCorpus(size_t count, uint32_t seed);

}  // namespace isolated::http::testing
