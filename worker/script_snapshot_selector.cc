// ScriptSnapshotSelector: the choice of an app's startup snapshot (see the header).
#include "worker/script_snapshot_selector.h"

#include <sstream>

#include "common/read_file.h"
#include "worker/snapshot_sources.h"

namespace isolated::worker {

StartupSnapshot* ScriptSnapshotSelector::snapshotFor(AppDefinition& definition) {
  if (builtins_ == nullptr) return nullptr;
  if (!definition.snapshotResolved && !definition.scriptSnapshotPath.empty() &&
      scriptSnapshotPath_.empty()) {
    // One script snapshot per worker process: an isolate made from a second, different script
    // snapshot in a process already using one fails in V8 10.2 ("undefined is not a function"
    // in the runtime), so a later version evaluates its script on the built-ins instead. A
    // single-script reload replaces the workers, whose first snapshot is then the new one.
    definition.snapshotResolved = true;
    std::string whyNot;
    std::string readError;
    const std::string& path = definition.scriptSnapshotPath;
    auto manifest = readFile(path + ".sources", readError);
    // A pinned version (rule 22) matches the snapshot when its own text does; a version being
    // validated when the files on disk still do.
    bool stale = false;
    if (manifest && definition.sourcesPinned) {
      stale = describeSources(definition.sources.files()) != *manifest;
      if (stale) whyNot = "the deployed version's files differ from the snapshot's";
    } else if (manifest) {
      stale = !sourcesUnchanged(*manifest, whyNot);
    }
    if (!manifest) {
      logger_.warn("script snapshot unusable, evaluating the script instead",
                   {{"app", definition.id}, {"error", readError}});
    } else if (stale) {
      logger_.info("script snapshot is stale, evaluating the script",
                   {{"app", definition.id}, {"reason", whyNot}});
    } else if (!(definition.scriptSnapshot = StartupSnapshot::mapFile(path, whyNot))) {
      logger_.warn("script snapshot unusable, evaluating the script instead",
                   {{"app", definition.id}, {"error", whyNot}});
    } else if (!definition.sourcesPinned) {
      // The files the snapshot was made from (just checked against their hashes) are what
      // this version pins (rule 22): read them now, since the snapshot's isolate never will.
      // Read as text only: a TypeScript file is stripped when it is compiled, which an isolate
      // made from the snapshot never does.
      std::istringstream lines(*manifest);
      for (std::string line; std::getline(lines, line);) {
        auto space = line.find(' ');
        if (space == std::string::npos) continue;
        std::string file = line.substr(space + 1);
        std::string error;
        if (auto text = readFile(file, error)) definition.sources.preset(file, std::move(*text));
      }
    }
    if (definition.scriptSnapshot) scriptSnapshotPath_ = definition.scriptSnapshotPath;
  }
  return definition.scriptSnapshot ? definition.scriptSnapshot.get() : builtins_;
}

}  // namespace isolated::worker
