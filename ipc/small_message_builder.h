// A message builder for the per-request messages (RequestStart, Response, Log): its first
// segment is an array inside the object, so building a typical message allocates nothing.
// capnp::MallocMessageBuilder's default first segment is a fresh 8 KiB calloc per message, which
// on the request path cost a malloc, a free and glibc's fastbin consolidation each time.
//
// Invariants: the first segment starts zeroed (as Cap'n Proto requires) and the base class zeroes
// the part it used when it is destroyed. A message that outgrows the array continues in heap
// segments, so any size still works. Lives on the stack: 2 KiB.
#pragma once

#include <capnp/message.h>

#include <array>

namespace isolated::ipc {

namespace detail {
struct InlineFirstSegment {
  static constexpr size_t kWords = 256;
  std::array<capnp::word, kWords> words{};
};
}  // namespace detail

// The array base comes first, so it is constructed (zeroed) before the builder that uses it and
// destroyed after it.
class SmallMessageBuilder : private detail::InlineFirstSegment, public capnp::MallocMessageBuilder {
 public:
  SmallMessageBuilder()
      : detail::InlineFirstSegment(),
        capnp::MallocMessageBuilder(kj::ArrayPtr<capnp::word>(words.data(), words.size())) {}
  SmallMessageBuilder(const SmallMessageBuilder&) = delete;
  SmallMessageBuilder& operator=(const SmallMessageBuilder&) = delete;
};

}  // namespace isolated::ipc
