// The native functions behind fetch() (worker/js/fetch.js): start a fetch, read its body,
// abort it. They reach the host's OutboundFetches through hostOf() (the isolate's RuntimeHost);
// a host without one (such as `isolated test`) makes fetch() throw a TypeError.
//
//   fetchStart(method, url, flatHeaders, body, redirect, streamed, service) -> [id, Promise<head>]
//       body: null, a string (sent as UTF-8), an ArrayBuffer or a view; redirect: 'follow',
//       'manual' or 'error'; service: undefined, or the service binding the fetch goes through
//       (ipc/protocol.h rule 26). Throws a TypeError for input over the IPC limits.
//   fetchRead(id) -> Promise<Uint8Array | null>
//   fetchAbort(id, reason)  pending promises of the fetch reject with `reason`
#pragma once

#include <span>

#include "worker/function_table.h"

namespace isolated::worker {

std::span<const NativeFunction> fetchFunctions();

}  // namespace isolated::worker
