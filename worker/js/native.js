// The `native` bindings object the host hands to the runtime (worker/native_bindings.cc and
// friends). Set once by install() before any other module's code runs in a request; modules
// read it through this live binding rather than receiving it as an argument.
export let native = null;

export function setNative(bindings) {
  native = bindings;
}
