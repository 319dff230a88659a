// MessageChannel and MessagePort (https://html.spec.whatwg.org/#message-channels): asynchronous
// delivery in posting order, structured cloning at post time, starting and closing ports,
// transferred ports and MessageEvent.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

function nextMessage(port) {
  return new Promise((resolve) => port.addEventListener('message', resolve, { once: true }));
}

export async function deliversAsynchronouslyInOrder() {
  const { port1, port2 } = new MessageChannel();
  const received = [];
  let sync = true;
  const done = new Promise((resolve) => {
    port2.onmessage = (event) => {
      assertEquals(sync, false, 'delivery is never synchronous');
      received.push(event.data);
      if (received.length === 3) resolve();
    };
  });
  port1.postMessage('a');
  port1.postMessage('b');
  port1.postMessage('c');
  sync = false;
  await done;
  assertArrayEquals(received, ['a', 'b', 'c']);
}

export async function eachMessageIsItsOwnTask() {
  const { port1, port2 } = new MessageChannel();
  const log = [];
  const done = new Promise((resolve) => {
    port2.onmessage = (event) => {
      log.push(`message ${event.data}`);
      Promise.resolve().then(() => log.push(`microtask ${event.data}`));
      if (event.data === 2) setTimeout(resolve, 0);
    };
  });
  port1.postMessage(1);
  port1.postMessage(2);
  await done;
  assertArrayEquals(log, ['message 1', 'microtask 1', 'message 2', 'microtask 2'],
                    'microtasks run between messages');
}

export async function messagesAreClonedWhenPosted() {
  const { port1, port2 } = new MessageChannel();
  port2.start();
  const original = { list: [1, 2], when: new Date(0), nested: { map: new Map([['k', 'v']]) } };
  const received = nextMessage(port2);
  port1.postMessage(original);
  original.list.push(3);
  original.nested.map.set('k', 'changed');
  const { data } = await received;
  assert(data !== original, 'a copy');
  assertArrayEquals(data.list, [1, 2], 'mutation after post is not observed');
  assertEquals(data.nested.map.get('k'), 'v');
  assert(data.when instanceof Date && data.when.getTime() === 0, 'a Date survives');
}

export function uncloneableMessagesThrowDataCloneError() {
  const { port1 } = new MessageChannel();
  assertThrows(() => port1.postMessage(() => {}), 'DataCloneError', 'a function');
  assertThrows(() => port1.postMessage({ s: Symbol('x') }), 'DataCloneError', 'a symbol');
  assertThrows(() => port1.postMessage('x', [port1]), 'DataCloneError', 'a port transfers itself');
  assertThrows(() => port1.postMessage(), TypeError, 'the message is required');
}

export async function queuedUntilStarted() {
  const { port1, port2 } = new MessageChannel();
  let delivered = false;
  port2.addEventListener('message', () => { delivered = true; });
  port1.postMessage('waiting');
  await new Promise((resolve) => setTimeout(resolve, 5));
  assertEquals(delivered, false, 'addEventListener alone does not start the port');
  const received = nextMessage(port2);
  port2.start();
  assertEquals((await received).data, 'waiting', 'start() delivers what was queued');
  assert(delivered, 'the first listener ran too');
}

export async function bothDirections() {
  const { port1, port2 } = new MessageChannel();
  port2.onmessage = (event) => port2.postMessage(event.data * 2);
  const reply = new Promise((resolve) => { port1.onmessage = (event) => resolve(event.data); });
  port1.postMessage(21);
  assertEquals(await reply, 42);
}

export async function closeStopsDelivery() {
  const { port1, port2 } = new MessageChannel();
  const received = [];
  port2.onmessage = (event) => received.push(event.data);
  port1.postMessage('before');
  port2.close();
  port1.postMessage('after');
  port2.postMessage('from a closed port');  // silently dropped
  await new Promise((resolve) => setTimeout(resolve, 5));
  assertArrayEquals(received, [], 'a closed port receives nothing, even what was queued');
}

export async function transferredPortsArriveInEventPorts() {
  const outer = new MessageChannel();
  const inner = new MessageChannel();
  outer.port2.start();
  const received = nextMessage(outer.port2);
  outer.port1.postMessage('here is a port', [inner.port2]);
  const event = await received;
  assertEquals(event.ports.length, 1);
  assert(Object.isFrozen(event.ports), 'ports is a frozen array');
  const port = event.ports[0];
  const echoed = new Promise((resolve) => { port.onmessage = (e) => resolve(e.data); });
  inner.port1.postMessage('through the transferred port');
  assertEquals(await echoed, 'through the transferred port');
  assertThrows(() => outer.port1.postMessage('x', [{}]), 'DataCloneError',
               'only ports and ArrayBuffers can be transferred');
}

export async function transferredArrayBuffersMoveIntoTheMessage() {
  const { port1, port2 } = new MessageChannel();
  port2.start();
  const received = nextMessage(port2);
  const buffer = new Uint8Array([7, 8, 9]).buffer;
  port1.postMessage({ buffer }, [buffer]);
  assertEquals(buffer.byteLength, 0, 'the sender\'s buffer is detached');
  const event = await received;
  assertArrayEquals(new Uint8Array(event.data.buffer), [7, 8, 9]);
  assertThrows(() => port1.postMessage('x', [buffer]), 'DataCloneError', 'a detached buffer');
}

export async function messageEventShape() {
  const { port1, port2 } = new MessageChannel();
  port2.start();
  const received = nextMessage(port2);
  port1.postMessage(null);
  const event = await received;
  assert(event instanceof MessageEvent && event instanceof Event, 'a MessageEvent');
  assertEquals(event.type, 'message');
  assertEquals(event.data, null);
  assertEquals(event.isTrusted, true, 'fired by the runtime');
  assertEquals(event.target, port2);
  assertEquals(event.origin, '');
  assertEquals(event.lastEventId, '');
  assertEquals(event.source, null);
  const made = new MessageEvent('message', { data: { x: 1 }, ports: [port1] });
  assertEquals(made.data.x, 1);
  assertEquals(made.ports[0], port1);
  assertEquals(made.isTrusted, false);
  assertThrows(() => new MessagePort(), TypeError, 'MessagePort is not constructible');
}
