// Heap allocations made so far by the calling thread (tests/allocation_counter.cc replaces the
// global operator new of the test binary that links it).
#pragma once

#include <cstddef>

namespace isolated {

size_t allocationCount();

}  // namespace isolated
