// Rendezvous hashing of apps over worker slots, and the least-outstanding pick among homes.
#include "supervisor/pool/placement.h"

#include <algorithm>
#include <cassert>

namespace isolated {

namespace {

// The splitmix64 finalizer: every input bit affects every output bit, so weights of nearby
// slots and keys are independent.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool hasRoom(const PlacementCandidate& c, uint32_t appCapacity) {
  return c.outstanding < c.capacity && c.appOutstanding < appCapacity;
}

// Another app is using the worker (SpreadPolicy::kOntoIdle).
bool neighbours(const PlacementCandidate& c) {
  return c.otherApps > 0 || c.outstanding > c.appOutstanding;
}

}  // namespace

Placement::Placement(uint32_t spreadThreshold, SpreadPolicy policy)
    : spreadThreshold_(std::max(1u, spreadThreshold)), policy_(policy) {}

uint64_t Placement::appKey(std::string_view appName) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
  for (unsigned char c : appName) {
    h ^= c;
    h *= 0x100000001b3ULL;  // FNV-1a prime
  }
  return mix(h);
}

uint64_t Placement::weight(uint64_t appKey, uint32_t slot) {
  // The slot is mixed on its own first so that key ^ slot does not cancel structure in the key.
  return mix(appKey ^ mix(0x9e3779b97f4a7c15ULL + slot));
}

namespace {

// Highest weight first; equal weights (a 2^-64 event) by slot, so the order is total.
struct ByRank {
  std::span<const PlacementCandidate> candidates;
  bool operator()(const PlacementRank& a, const PlacementRank& b) const {
    if (a.weight != b.weight) return a.weight > b.weight;
    return candidates[a.index].slot < candidates[b.index].slot;
  }
};

// Weighs the accepting candidates into `scratch`, unordered; returns how many.
size_t weigh(uint64_t appKey, std::span<const PlacementCandidate> candidates,
             std::span<PlacementRank> scratch) {
  assert(scratch.size() >= candidates.size());
  size_t n = 0;
  for (size_t i = 0; i < candidates.size() && n < scratch.size(); ++i) {
    if (!candidates[i].accepting) continue;
    scratch[n++] =
        PlacementRank{Placement::weight(appKey, candidates[i].slot), static_cast<uint32_t>(i)};
  }
  return n;
}

}  // namespace

size_t Placement::rank(uint64_t appKey, std::span<const PlacementCandidate> candidates,
                       std::span<PlacementRank> scratch) {
  size_t n = weigh(appKey, candidates, scratch);
  std::sort(scratch.begin(), scratch.begin() + static_cast<ptrdiff_t>(n), ByRank{candidates});
  return n;
}

uint32_t Placement::homeCount(uint32_t appOutstanding, size_t accepting) const {
  uint64_t wanted =
      (static_cast<uint64_t>(appOutstanding) + spreadThreshold_ - 1) / spreadThreshold_;
  wanted = std::max<uint64_t>(1, wanted);
  return static_cast<uint32_t>(std::min<uint64_t>(wanted, accepting));
}

std::optional<size_t> Placement::pick(uint64_t appKey, uint32_t appOutstanding,
                                      std::span<const PlacementCandidate> candidates,
                                      std::span<PlacementRank> scratch,
                                      uint32_t appCapacity) const {
  size_t n = weigh(appKey, candidates, scratch);
  if (n == 0) return std::nullopt;
  size_t homes = homeCount(appOutstanding, n);
  auto begin = scratch.begin();
  auto end = begin + static_cast<ptrdiff_t>(n);
  if (policy_ == SpreadPolicy::kOntoIdle && homes > 1)
    return pickOntoIdle(candidates, scratch.first(n), homes, appCapacity);
  // Only the homes need ordering in the common case (usually one: a linear scan); the rest is
  // sorted when the request overflows.
  std::partial_sort(begin, begin + static_cast<ptrdiff_t>(homes), end, ByRank{candidates});
  std::optional<size_t> best;
  for (size_t r = 0; r < homes; ++r) {
    const PlacementCandidate& c = candidates[scratch[r].index];
    if (!hasRoom(c, appCapacity)) continue;
    if (!best || c.outstanding < candidates[*best].outstanding) best = scratch[r].index;
  }
  if (best) return best;
  std::sort(begin + static_cast<ptrdiff_t>(homes), end, ByRank{candidates});
  return overflow(candidates, scratch.subspan(homes, n - homes), appCapacity);
}

std::optional<size_t> Placement::overflow(std::span<const PlacementCandidate> candidates,
                                          std::span<const PlacementRank> ranked,
                                          uint32_t appCapacity) const {
  // In the app's order; under kOntoIdle, workers no other app is using first.
  for (int pass = policy_ == SpreadPolicy::kOntoIdle ? 0 : 1; pass < 2; ++pass) {
    for (const PlacementRank& rank : ranked) {
      const PlacementCandidate& c = candidates[rank.index];
      if (hasRoom(c, appCapacity) && (pass == 1 || !neighbours(c))) return rank.index;
    }
  }
  return std::nullopt;
}

std::optional<size_t> Placement::pickOntoIdle(std::span<const PlacementCandidate> candidates,
                                              std::span<PlacementRank> ranked, size_t homes,
                                              uint32_t appCapacity) const {
  std::sort(ranked.begin(), ranked.end(), ByRank{candidates});
  // The homes: the first worker in the app's order, then the next homes - 1 that no other app
  // is using.
  std::optional<size_t> best;
  size_t extra = 0;
  for (size_t r = 0; r < ranked.size(); ++r) {
    const PlacementCandidate& c = candidates[ranked[r].index];
    if (r > 0) {
      if (extra == homes - 1) break;
      if (neighbours(c)) continue;
      ++extra;
    }
    if (!hasRoom(c, appCapacity)) continue;
    if (!best || c.outstanding < candidates[*best].outstanding) best = ranked[r].index;
  }
  if (best) return best;
  return overflow(candidates, ranked, appCapacity);
}

}  // namespace isolated
