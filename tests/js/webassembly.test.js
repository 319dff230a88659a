// WebAssembly: the V8 built-in, compiled and run inside the runtime.
import { assert, assertEquals } from './lib/assert.js';
// (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
const kAddModule = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01,
  0x7f, 0x03, 0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x0a, 0x09,
  0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
]);
export async function instantiateRunsExports() {
  const { instance } = await WebAssembly.instantiate(kAddModule);
  if (instance.exports.add(2, 40) !== 42) throw new Error('add(2, 40) != 42');
}

export async function compileThenInstantiateModule() {
  assertEquals(WebAssembly.validate(kAddModule), true);
  const module = await WebAssembly.compile(kAddModule);
  assert(module instanceof WebAssembly.Module, 'compile() gives a Module');
  const instance = await WebAssembly.instantiate(module);
  assertEquals(instance.exports.add(-1, 1), 0);
}

export function synchronousModuleAndInstance() {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(kAddModule));
  assertEquals(instance.exports.add(20, 22), 42);
}

export async function invalidBytesRejectWithCompileError() {
  assertEquals(WebAssembly.validate(new Uint8Array([0, 1, 2])), false);
  let caught = null;
  try {
    await WebAssembly.instantiate(new Uint8Array([0, 0x61, 0x73, 0x6d, 2, 0, 0, 0]));
  } catch (error) {
    caught = error;
  }
  assert(caught instanceof WebAssembly.CompileError, `expected a CompileError, got ${caught}`);
}

export async function manyConcurrentInstantiationsAllSettle() {
  const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        WebAssembly.instantiate(kAddModule).then(({ instance }) => instance.exports.add(i, 1))));
  assertEquals(results.join(','), Array.from({ length: 20 }, (_, i) => i + 1).join(','));
}

export function memoryGrows() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
  assertEquals(memory.buffer.byteLength, 65536);
  memory.grow(1);
  assertEquals(memory.buffer.byteLength, 131072);
}
