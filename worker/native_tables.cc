// The list of native function tables: see native_tables.h.
#include "worker/native_tables.h"

#include "worker/body_bindings.h"
#include "worker/compression_bindings.h"
#include "worker/fetch_bindings.h"
#include "worker/native_bindings.h"
#include "worker/runtime_source.h"
#include "worker/storage_native.h"
#include "worker/subtle/subtle_bindings.h"
#include "worker/web_bindings.h"

namespace isolated::worker {

std::vector<std::span<const NativeFunction>> nativeTables() {
  return {NativeBindings::functions(), WebBindings::functions(), subtle::subtleFunctions(),
          compressionFunctions(),      fetchFunctions(),         bodyFunctions(),
          storageFunctions()};
}

std::vector<intptr_t> externalReferences() {
  std::vector<intptr_t> references;
  for (auto table : nativeTables()) {
    for (const auto& function : table) {
      references.push_back(reinterpret_cast<intptr_t>(function.callback));
    }
  }
  // The runtime source's resource: a snapshot refers to it instead of holding a copy.
  references.push_back(reinterpret_cast<intptr_t>(runtimeSourceResource()));
  references.push_back(0);
  return references;
}

}  // namespace isolated::worker
