// Chooses the worker for the next request: the fewest outstanding requests among workers that
// accept work and have room, round-robin among ties. Pure logic, no I/O, so it is unit-tested
// directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace isolated::supervisor {

struct DispatchCandidate {
  bool accepting = false;  // ready and not draining
  uint32_t outstanding = 0;
  uint32_t capacity = 0;  // WORKER_TASK_QUEUE_SIZE
};

class Dispatcher {
 public:
  // Index of the chosen candidate, or nullopt when none is accepting with room.
  std::optional<size_t> pick(const std::vector<DispatchCandidate>& candidates);

 private:
  // Where the next tie-break scan starts, so equal workers take turns.
  size_t cursor_ = 0;
};

}  // namespace isolated::supervisor
