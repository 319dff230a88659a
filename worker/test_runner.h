// `isolated test FILE.js...`: runs JavaScript test files in-process, inside the same runtime a
// worker gives its script. Each file is an ES module; each named export that is a function is a
// test, called with no arguments and awaited. A test passes when its promise fulfils, and fails
// when it throws, rejects, outlives the per-test timeout, or exceeds the CPU budget (the same
// CpuWatchdog as the worker's, with the timeout as budget, so `while (true) {}` ends too).
//
// Every file gets a fresh context in one shared isolate; timers run on a libevent loop that is
// driven only while a test is pending. Timers a test leaves behind are cancelled when its file
// ends. A test whose CPU budget ran out leaves its context in an unknown state, so the file's
// remaining tests are reported as failed without being run.
//
// Output: `PASS name` / `FAIL name: message` per test on stdout, then `N passed, M failed`.
// Console output from tests goes to stdout (log, info, debug) or stderr (warn, error).
#pragma once

#include <string>
#include <vector>

namespace isolated::worker {

// Returns the process exit status: 0 when every file loaded and every test passed.
int testMain(const char* argv0, const std::vector<std::string>& files);

}  // namespace isolated::worker
