// `isolated __sandbox-selftest [--verbose]`: proves that the worker's seccomp filter denies
// what it must and allows what a worker needs. Each case runs in a child that installs the
// same filter a worker installs and then makes one call; a denied call must kill the child
// with SIGSYS and make the SIGSYS reporter log its name (or fail with the designed errno); an
// allowed call must succeed. Prints one line per case and exits 0 when every case behaved, 1
// otherwise. CTest runs it (sandbox_selftest).
#pragma once

#include <string>
#include <vector>

namespace isolated::sandbox {

int selftestMain(const std::vector<std::string>& args);

}  // namespace isolated::sandbox
