// The hidden `isolated __snapshot-script` mode: the helper process the supervisor starts at pool
// start and on every reload to snapshot the user's script on top of the built-ins (see
// worker/snapshot_builder.h). It writes the blob to a new file (mode 0600) in the supervisor's
// private directory, with the list of its source files beside it (FILE.sources, see
// worker/snapshot_sources.h), and exits:
//   0                   the snapshot is written to --out;
//   kNoScriptSnapshot   no snapshot, and why was logged once: the script is not safe to
//                       snapshot, or failed to load (its workers then report the error);
//   anything else       it failed (or V8 aborted); the pool runs without a script snapshot.
#pragma once

#include <string>
#include <vector>

namespace isolated::worker {

constexpr int kNoScriptSnapshot = 3;

// `args` follow `__snapshot-script`: --script PATH --out FILE [--with-bindings] [--log-level L]
// [--log-format F]. --with-bindings: the workers give the script environment bindings.
int scriptSnapshotMain(const char* argv0, const std::vector<std::string>& args);

}  // namespace isolated::worker
