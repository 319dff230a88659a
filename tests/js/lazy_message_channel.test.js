// MessageChannel, MessagePort and MessageEvent are loaded on first use (worker/js/main.js): the
// classes the module makes extend the global Event and EventTarget, and its events get the
// runtime's clock. One test, because each file gets one fresh context and the order of first
// uses is what is checked.
import { assert, assertEquals } from './lib/assert.js';

export async function messageChannelLoadsOnFirstUse() {
  const lazy = (name) =>
    typeof Object.getOwnPropertyDescriptor(globalThis, name).get === 'function';
  for (const name of ['MessageChannel', 'MessagePort', 'MessageEvent']) {
    assert(lazy(name), `${name} is lazy in a fresh context`);
  }
  structuredClone(new Uint8Array([1]));
  assert(lazy('MessagePort'), 'structuredClone does not load the message channel');
  const { port1, port2 } = new MessageChannel();
  assertEquals(lazy('MessageChannel'), false);
  const received = new Promise((resolve) => { port2.onmessage = resolve; });
  port1.postMessage('hi');
  const message = await received;
  assertEquals(message.data, 'hi');
  assertEquals(message instanceof MessageEvent, true);
  assertEquals(message instanceof Event, true);
  assertEquals(port1 instanceof MessagePort, true);
  assertEquals(port1 instanceof EventTarget, true);
  assert(message.timeStamp > 0, `timeStamp ${message.timeStamp} comes from performance.now()`);
  assertEquals(globalThis.MessageEvent, MessageEvent);
}
