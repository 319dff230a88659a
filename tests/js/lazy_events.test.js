// Event, EventTarget, CustomEvent, AbortController, AbortSignal and the message channel classes
// are loaded on first use (worker/js/events_lazy.js, main.js). Here the message channel comes
// first, which loads the event classes through it: they must still be the globals' classes, and
// events must still get their clock. One test, because each file gets one fresh context and the
// order of first uses is what is checked.
import { assert, assertEquals } from './lib/assert.js';

export async function eventClassesLoadOnFirstUse() {
  const lazy = (name) =>
    typeof Object.getOwnPropertyDescriptor(globalThis, name).get === 'function';
  for (const name of ['Event', 'EventTarget', 'CustomEvent', 'AbortController', 'AbortSignal',
                      'MessageChannel', 'MessagePort', 'MessageEvent']) {
    assert(lazy(name), `${name} is lazy in a fresh context`);
  }
  const { port1, port2 } = new MessageChannel();
  assert(lazy('Event'), 'the message channel does not define the Event global');
  const received = new Promise((resolve) => { port2.onmessage = resolve; });
  port1.postMessage('hi');
  const message = await received;
  assertEquals(message.data, 'hi');
  assertEquals(message instanceof MessageEvent, true);
  assertEquals(message instanceof Event, true);
  assertEquals(port1 instanceof EventTarget, true);
  assert(message.timeStamp > 0, `timeStamp ${message.timeStamp} comes from performance.now()`);
  assert(new CustomEvent('x').timeStamp >= message.timeStamp);

  const controller = new AbortController();
  assertEquals(controller.signal instanceof AbortSignal, true);
  assertEquals(controller.signal instanceof EventTarget, true);
  let aborted = 0;
  controller.signal.addEventListener('abort', () => { aborted += 1; });
  controller.abort();
  assertEquals(aborted, 1);
  assertEquals(controller.signal.reason.name, 'AbortError');
  assertEquals(AbortSignal.abort().aborted, true);
  // fetch() recognises the global's signals (it checks the signal before the URL's scheme).
  let error = null;
  await fetch('ftp://h.test/', { signal: { aborted: false } }).catch((e) => { error = e; });
  assertEquals(error instanceof TypeError, true);
  assert(/AbortSignal/.test(error.message), error.message);
}
