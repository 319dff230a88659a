// Counts heap allocations in this test binary, so that tests can assert a hot path makes none.
// Replaces the global operator new/delete (forwarding to malloc/free); the count is per thread.
#include "allocation_counter.h"

#include <cstdlib>
#include <new>

namespace isolated {
namespace {
thread_local size_t allocations = 0;
}  // namespace

size_t allocationCount() {
  return allocations;
}

}  // namespace isolated

void* operator new(std::size_t size) {
  ++isolated::allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return ::operator new(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
