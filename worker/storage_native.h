// The native function behind the storage bindings (worker/js/storage_bindings.js):
//
//   bindingCall(binding, op, argsJson, value) -> Promise<[payloadJson, Uint8Array | null]>
//       value: undefined/null, a string (UTF-8), an ArrayBuffer or a view. Throws a TypeError
//       for input over the IPC limits (ipc/protocol.h rule 25) before anything is sent.
//
// It reaches the host's BindingCalls through hostOf(); a host without one (`isolated test`)
// makes the call throw a TypeError.
#pragma once

#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

std::span<const NativeFunction> storageFunctions();

}  // namespace isolated::worker
