// The registry of every NativeFunction table the runtime installs, in one place, so that the
// startup snapshot can name each callback as a V8 external reference. A table installed with
// installFunctions but missing here makes the snapshot build (at compile time) abort with
// "Unknown external reference": add each new table to nativeTables() in native_tables.cc.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "worker/function_table.h"

namespace isolated::worker {

// Every table, in a fixed order.
std::vector<std::span<const NativeFunction>> nativeTables();

// Every callback of every table as V8 wants them in Isolate::CreateParams and SnapshotCreator:
// addresses in a fixed order, ending with 0. The snapshot stores indices into this list, so a
// blob only works with the binary that built it (the embedded one always does; a script
// snapshot is built at run time by the same binary).
std::vector<intptr_t> externalReferences();

}  // namespace isolated::worker
