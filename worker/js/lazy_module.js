// A module evaluated on first use rather than with the bundle: `load` calls require(), which
// esbuild turns into a lazy module initialiser when the call sits inside a function (url.js says
// why the runtime defers its large modules). The returned function loads it once and returns it;
// a load that throws is tried again on the next call. The load is the runtime's own work, done
// in the middle of some request: native.runtimeWork keeps its CPU outside the app's CPU limit
// (worker/cpu_watchdog.h, "Runtime work"). `native` is null only while the bundle itself is
// evaluated, before install().
import { native } from './native.js';

export function lazyModule(load) {
  let value = null;
  const get = () => (value ??= native === null ? load() : native.runtimeWork(load));
  // Whether it has been loaded yet: a question about its classes can be answered without
  // loading it, since no instance of them can exist before then.
  get.loaded = () => value !== null;
  return get;
}
