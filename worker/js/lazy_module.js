// A module evaluated on first use rather than with the bundle: `load` calls require(), which
// esbuild turns into a lazy module initialiser when the call sits inside a function (url.js says
// why the runtime defers its large modules). The returned function loads it once and returns it;
// a load that throws is tried again on the next call.
export function lazyModule(load) {
  let value = null;
  const get = () => (value ??= load());
  // Whether it has been loaded yet: a question about its classes can be answered without
  // loading it, since no instance of them can exist before then.
  get.loaded = () => value !== null;
  return get;
}
