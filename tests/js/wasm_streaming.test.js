// WebAssembly.compileStreaming and instantiateStreaming from a Response (or a promise of one),
// and WebAssembly.Tag / WebAssembly.Exception (V8's exception handling JS API).
import { assert, assertEquals, assertRejects } from './lib/assert.js';

// (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
const kAddModule = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01,
  0x7f, 0x03, 0x02, 0x01, 0x00, 0x07, 0x07, 0x01, 0x03, 0x61, 0x64, 0x64, 0x00, 0x00, 0x0a, 0x09,
  0x01, 0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b,
]);

const wasmResponse = (type = 'application/wasm', status = 200) =>
  new Response(kAddModule, { status, headers: { 'content-type': type } });

export async function compileStreamingFromAResponse() {
  const module = await WebAssembly.compileStreaming(wasmResponse());
  assert(module instanceof WebAssembly.Module, 'a Module');
  const instance = await WebAssembly.instantiate(module);
  assertEquals(instance.exports.add(40, 2), 42);
}

export async function instantiateStreamingFromAPromise() {
  const { module, instance } =
    await WebAssembly.instantiateStreaming(Promise.resolve(wasmResponse('application/wasm; x=y')));
  assert(module instanceof WebAssembly.Module, 'a Module');
  assertEquals(instance.exports.add(1, 2), 3);
}

export async function wrongInputsReject() {
  await assertRejects(() => WebAssembly.compileStreaming(wasmResponse('text/plain')), TypeError);
  await assertRejects(() => WebAssembly.compileStreaming(new Response(kAddModule)), TypeError);
  await assertRejects(() => WebAssembly.compileStreaming(wasmResponse('application/wasm', 404)),
                      TypeError);
  await assertRejects(() => WebAssembly.instantiateStreaming(kAddModule), TypeError);
  const used = wasmResponse();
  await used.arrayBuffer();
  await assertRejects(() => WebAssembly.compileStreaming(used), TypeError);
}

export function tagAndException() {
  assertEquals(typeof WebAssembly.Tag, 'function');
  assertEquals(typeof WebAssembly.Exception, 'function');
  const tag = new WebAssembly.Tag({ parameters: ['i32', 'f64'] });
  const exception = new WebAssembly.Exception(tag, [7, 1.5]);
  assertEquals(exception.is(tag), true);
  assertEquals(exception.getArg(tag, 0), 7);
  assertEquals(exception.getArg(tag, 1), 1.5);
  assertEquals(exception.is(new WebAssembly.Tag({ parameters: [] })), false);
}
