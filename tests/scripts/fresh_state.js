// Per-context state for the startup snapshot tests, as an ES module: every value must differ
// between two contexts made from one snapshot (the counter must start again at 1 in `context`
// and `isolate` modes). Top-level code that reads no clock and uses no host, so that the script
// itself is snapshotted with --snapshot-script on.
let count = 0;

export default {
  fetch() {
    return Response.json({
      count: ++count,
      timeOrigin: performance.timeOrigin,
      random: Math.random(),
      uuid: crypto.randomUUID(),
      builtins: [typeof Request, typeof TextEncoder, typeof structuredClone, typeof atob].join(),
    });
  },
};
