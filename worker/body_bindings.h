// The `native` functions for streamed bodies, used by worker/js/body_stream.js:
//   startResponse(id, status, headerText) -> bool   status and headers out, body to follow
//   readBody(id)          -> Promise<Uint8Array | null>   next request-body chunk, null at the end
//   writeBody(id, bytes)  -> Promise<undefined>           resolves when the bytes are out
//   endBody(id, aborted)                                   ends (or abandons) the response body
// Each reaches its RuntimeHost through hostOf(), like NativeBindings.
#pragma once

#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

std::span<const NativeFunction> bodyFunctions();

}  // namespace isolated::worker
