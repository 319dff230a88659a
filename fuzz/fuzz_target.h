// The one entry point every fuzz target defines: libFuzzer's. With -DISOLATED_FUZZ=ON libFuzzer
// drives it; otherwise fuzz/replay_main.cc feeds it each file of the target's corpus, so that
// the normal test run replays every corpus (fuzz/CMakeLists.txt).
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
