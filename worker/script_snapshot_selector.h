// ScriptSnapshotSelector: which startup snapshot an app's isolates start from: the app's script
// snapshot (made by `isolated __snapshot-script`) when it is usable and not stale, else the
// built-ins snapshot. Resolving a script snapshot maps it and, for an unpinned version, reads the
// files it was made from so that the version pins them (ipc/protocol.h rule 22).
//
// Invariant: at most one script snapshot per worker process (V8 10.2 cannot create isolates from
// two different startup blobs in one process): the first one mapped is the only one used; later
// apps evaluate their script on the built-ins. Lifetime: `builtins` and `logger` outlive the
// selector; it holds no snapshot itself (each AppDefinition holds its own). Threading: the
// worker's loop thread only.
#pragma once

#include <string>

#include "common/logger.h"
#include "worker/app_definition.h"
#include "worker/startup_snapshot.h"

namespace isolated::worker {

class ScriptSnapshotSelector {
 public:
  // `builtins` null: no snapshot at all (--no-builtins-snapshot), script snapshots included.
  ScriptSnapshotSelector(StartupSnapshot* builtins, Logger& logger)
      : builtins_(builtins), logger_(logger) {}
  ScriptSnapshotSelector(const ScriptSnapshotSelector&) = delete;
  ScriptSnapshotSelector& operator=(const ScriptSnapshotSelector&) = delete;

  // The snapshot for the app's next isolate. The first call for an app with a script snapshot
  // resolves it (definition.snapshotResolved, definition.scriptSnapshot); null when there is
  // no built-ins snapshot.
  StartupSnapshot* snapshotFor(AppDefinition& definition);

 private:
  StartupSnapshot* builtins_;
  Logger& logger_;
  // The script snapshot this worker uses; empty until one is mapped.
  std::string scriptSnapshotPath_;
};

}  // namespace isolated::worker
