// Per-context initialisation. The runtime is evaluated once, into the startup snapshot made at
// build time, and every context is then deserialised from it: whatever a module read while it
// was evaluated (a clock, a random seed) would be shared by every context and belong to the
// build. Such a module registers a reset with onContextInit(); the host calls initContext()
// first thing in every context made from the snapshot (worker/script_context.cc).
const resets = [];

export function onContextInit(reset) {
  resets.push(reset);
}

export function initContext() {
  for (const reset of resets) reset();
}
