// One app deployment as a worker knows it: what LoadApp said (script, bindings, limits,
// isolation) and what the worker keeps for the app while no isolate of it is alive, so that
// re-creating the isolate after an eviction costs as little as possible: the script's source
// text and V8 code caches (SourceCache), the mapped script snapshot, and the fetch id sequence.
//
// Lifetime: owned by the IsolateRegistry from LoadApp until the app is dropped after UnloadApp;
// it outlives every IsolateHost made from it. Threading: the worker's loop thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/isolation_mode.h"
#include "worker/outbound_fetches.h"
#include "worker/script_context.h"
#include "worker/script_loader.h"
#include "worker/startup_snapshot.h"

namespace isolated::worker {

struct AppDefinition {
  explicit AppDefinition(uint32_t appId) : id(appId), fetchIds(appId), callIds(appId) {}

  uint32_t id;
  std::string name;
  uint64_t version = 0;
  std::string scriptPath;
  // Made by `isolated __snapshot-script`; empty: none.
  std::string scriptSnapshotPath;
  std::vector<ScriptBinding> bindings;
  size_t heapLimitBytes = 128u << 20;
  std::chrono::milliseconds cpuLimit{50};
  IsolationMode isolation = IsolationMode::kShared;

  // Kept across the app's isolates.
  SourceCache sources{/*keepCodeCache=*/true};
  // LoadApp gave the sources (rule 22): they are not sent back in AppLoaded.
  bool sourcesPinned = false;
  FetchIdSequence fetchIds;
  // Storage binding call ids, (app << 32) | n like fetch ids (ipc/protocol.h rule 23).
  FetchIdSequence callIds;
  // The script snapshot, mapped on the first isolate's creation when usable (null otherwise;
  // `snapshotResolved` says the attempt was made).
  std::unique_ptr<StartupSnapshot> scriptSnapshot;
  bool snapshotResolved = false;
};

}  // namespace isolated::worker
