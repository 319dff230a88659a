// The streams ponyfill picks the DOMException class of the AbortErrors it makes from globalThis
// as it loads; the runtime loads it on first use (worker/js/streams.js) with its own class
// standing there, and puts back whatever the script had made of that global. One test, because
// each file gets one fresh context and the ponyfill loads once in it.
import { assertEquals } from './lib/assert.js';

export async function aReplacedDOMExceptionGlobalSurvivesTheFirstStream() {
  const Original = DOMException;
  function Mine() {}
  globalThis.DOMException = Mine;
  const readable = new ReadableStream();
  assertEquals(globalThis.DOMException, Mine);
  assertEquals(Object.getOwnPropertyDescriptor(globalThis, 'DOMException').enumerable, false);
  // A signal without a reason makes the ponyfill build its own AbortError: the runtime's class.
  const signal = { aborted: true, reason: undefined, addEventListener() {},
                   removeEventListener() {} };
  let error = null;
  await readable.pipeTo(new WritableStream(), { signal }).catch((e) => { error = e; });
  assertEquals(error instanceof Original, true);
  assertEquals(error.name, 'AbortError');
}
