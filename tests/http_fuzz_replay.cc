// Runs the HTTP layer's fuzz target (http_fuzz.cc) over its seed corpus: the valid requests and
// their mutations from tests/http_corpus.h, each also split into pieces. A plain (gcc) build
// runs this as a CTest test, so the target stays compiled and its seeds stay clean.
#include <cstdint>
#include <cstdio>
#include <string>

#include "tests/http_corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main() {
  auto corpus = isolated::http::testing::mutatedCorpus(400, 23);
  size_t runs = 0;
  for (std::string& input : corpus) {
    // As it is (its first byte picks the piece size), then whole (a first byte of 0 is 17k).
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    std::string whole = std::string(1, '\0') + input + input;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(whole.data()), whole.size());
    runs += 2;
  }
  std::printf("http_fuzz_replay: %zu inputs ran\n", runs);
  return 0;
}
