// The script's environment: variables and secrets (--var, --vars-file, --secret,
// --secrets-file) that the supervisor sends each worker in its Configure message. Module
// handlers get it as `env`; service-worker scripts see each binding as a global, as on
// Cloudflare Workers, and the whole object as the global `env`, as on OpenWorkers (a binding
// itself named `env` wins over it).
import { lazyModule } from './lazy_module.js';

// Loaded only by scripts that have storage or service bindings.
const storageBindings = lazyModule(() => require('./storage_bindings.js'));

let env = {};

export function currentEnv() {
  return env;
}

// Called by the host once per context: with `asGlobals` false before the script loads, and,
// for a classic (service-worker) script, again with true just before its top level runs.
// `resources` lists the storage bindings (KV, SQL database, object storage) and service
// bindings as [name, kind] pairs; their objects join `bindings` on the first call.
export function setEnv(bindings, asGlobals, resources) {
  if (!asGlobals && resources?.length > 0) {
    const { makeStorageBinding } = storageBindings();
    for (const [name, kind] of resources) {
      Object.defineProperty(bindings, name, {
        value: makeStorageBinding(name, kind), writable: true, configurable: true,
        enumerable: true,
      });
    }
  }
  env = bindings;
  if (!asGlobals) return;
  Object.defineProperty(globalThis, 'env', {
    value: bindings, writable: true, configurable: true, enumerable: false,
  });
  for (const name of Object.keys(bindings)) {
    Object.defineProperty(globalThis, name, {
      value: bindings[name], writable: true, configurable: true, enumerable: true,
    });
  }
}
