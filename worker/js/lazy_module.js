// A module evaluated on first use rather than with the bundle: `load` calls require(), which
// esbuild turns into a lazy module initialiser when the call sits inside a function (url.js says
// why the runtime defers its large modules). The returned function loads it once and returns it;
// a load that throws is tried again on the next call.
//
// The first load is the runtime's own work, done in the middle of some request:
// native.runtimeWork keeps its CPU outside the app's CPU limit, up to an allowance per run
// (worker/cpu_watchdog.h, "Runtime work"). Only the first attempt: a script can make a load run
// its code (a built-in it patched) and throw, and retrying at no charge on every run would let
// it spend the allowance on every run. `native` is null only while the bundle itself is
// evaluated, before install().
import { native } from './native.js';

export function lazyModule(load) {
  let value = null;
  let tried = false;
  const get = () => {
    if (value != null) return value;
    const first = !tried;
    tried = true;
    value = first && native !== null ? native.runtimeWork(load) : load();
    return value;
  };
  // Whether it has been loaded yet: a question about its classes can be answered without
  // loading it, since no instance of them can exist before then.
  get.loaded = () => value !== null;
  return get;
}
