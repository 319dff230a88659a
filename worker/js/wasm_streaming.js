// WebAssembly.compileStreaming and instantiateStreaming (WebAssembly Web API), from a Response
// or a promise of one, over V8's compile and instantiate. V8 10.2 leaves them to the embedder.
// The bytes are the response's whole body: V8's streaming compiler is not used, so a module is
// compiled once it has fully arrived.
//
// V8 gives every context its own WebAssembly object, and none while the startup snapshot is
// made: the two functions are added to each context's object as it starts (onContextInit for
// contexts from the snapshot, installWasmStreaming from install() for the others).
import { onContextInit } from './context_init.js';
import { Response } from './request_response.js';

async function moduleBytes(source, method) {
  const response = await source;
  if (!(response instanceof Response)) {
    throw new TypeError(`WebAssembly.${method}: the argument must be a Response or a promise ` +
                        'that resolves to one');
  }
  const type = response.headers.get('content-type');
  if (type === null || type.split(';')[0].trim().toLowerCase() !== 'application/wasm') {
    throw new TypeError(`WebAssembly.${method}: the response's Content-Type must be ` +
                        `application/wasm (it is ${type === null ? 'missing' : `"${type}"`})`);
  }
  if (!response.ok) {
    throw new TypeError(`WebAssembly.${method}: the response's status is ${response.status}`);
  }
  if (response.bodyUsed) {
    throw new TypeError(`WebAssembly.${method}: the response's body has already been read`);
  }
  return response.arrayBuffer();
}

function install() {
  const wasm = globalThis.WebAssembly;
  if (typeof wasm !== 'object' || wasm === null || 'compileStreaming' in wasm) return;
  const methods = {
    async compileStreaming(source) {
      return wasm.compile(await moduleBytes(source, 'compileStreaming'));
    },
    async instantiateStreaming(source, importObject = undefined) {
      return wasm.instantiate(await moduleBytes(source, 'instantiateStreaming'), importObject);
    },
  };
  for (const [name, value] of Object.entries(methods)) {
    Object.defineProperty(wasm, name, { value, writable: true, configurable: true,
                                        enumerable: true });
  }
}

onContextInit(install);

export function installWasmStreaming() {
  install();
}
