// Runs the HTTP layer's fuzz target (http_fuzz.cc) over its seed corpus: the valid requests and
// their mutations from tests/http_corpus.h, each also split into pieces. A plain (gcc) build
// runs this as a CTest test, so the target stays compiled and its seeds stay clean.
//   http_fuzz_replay                      replays the seeds
//   http_fuzz_replay --write-seeds DIR    writes them as files, a corpus for http_fuzzer
#include <cstdint>
#include <cstdio>
#include <string>

#include "tests/http_corpus.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  auto corpus = isolated::http::testing::mutatedCorpus(400, 23);
  if (argc == 3 && std::string(argv[1]) == "--write-seeds") {
    for (size_t i = 0; i < corpus.size(); ++i) {
      std::string path = std::string(argv[2]) + "/seed-" + std::to_string(i);
      std::FILE* f = std::fopen(path.c_str(), "wb");
      if (!f) return 1;
      std::fwrite(corpus[i].data(), 1, corpus[i].size(), f);
      std::fclose(f);
    }
    return 0;
  }
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
