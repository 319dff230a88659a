// The `native` functions for streamed bodies, used by worker/js/body_stream.js:
//   startResponse(id, status, headerText) -> bool   status and headers out, body to follow
//   readBody(id)          -> Promise<Uint8Array | null>   next request-body chunk, null at the end
//   readBodyAll(id, asText) -> Promise<Uint8Array | string>  the rest of the body, whole
//   utf8Text(view)        -> string                      the bytes decoded as UTF-8 (BOM dropped)
//   writeBody(id, bytes)  -> Promise<undefined>           resolves when the bytes are out
//   endBody(id, aborted)                                   ends (or abandons) the response body
// Each reaches its RuntimeHost through hostOf(), like NativeBindings.
#pragma once

#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

std::span<const NativeFunction> bodyFunctions();

}  // namespace isolated::worker
