// Whether this test binary was built with AddressSanitizer (-DISOLATED_SANITIZE=address,...).
// Under it, every process of the test keeps freed memory in a quarantine (256 MB by default) and
// a shadow map beside its heap, and copies bulk data several times slower. A test that asserts
// an RSS bound or moves hundreds of megabytes within a deadline measures the sanitizer there,
// not the code, so it skips under ASan with SKIP_UNDER_ADDRESS_SANITIZER(); the normal build,
// which CI runs first, still checks the bound. Nothing else may skip.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace isolated::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// FLAGS, plus (under ASan only) serve flags that lift the workers' memory thresholds, for tests
// that move tens of megabytes but are not about memory: the quarantine alone can carry a worker
// past the default thresholds (256 MB, hard 384 MB), which recycle or kill it mid-request. The
// normal build runs such tests with the defaults.
inline std::vector<std::string> withMemoryHeadroomUnderSanitizer(std::vector<std::string> flags) {
  if (kAddressSanitizer) {
    flags.insert(flags.end(), {"--memory-threshold", "2048", "--memory-hard-threshold", "3072"});
  }
  return flags;
}

}  // namespace isolated::testing

#define SKIP_UNDER_ADDRESS_SANITIZER(what)                                                \
  do {                                                                                    \
    if (::isolated::testing::kAddressSanitizer)                                           \
      GTEST_SKIP() << "under AddressSanitizer: " << (what)                                \
                   << " measures the sanitizer's quarantine and shadow memory, not this " \
                      "code; the normal build checks it";                                 \
  } while (0)
