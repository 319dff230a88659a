// MessageChannel, MessagePort and MessageEvent (https://html.spec.whatwg.org/#message-channels),
// within one isolate. postMessage clones the message at once (structuredClone), so later
// mutation of the original is not observed; each message is delivered as its own task on the
// runtime's timer queue, in posting order, once the receiving port has been started (start()
// or assigning onmessage). MessagePorts in the transfer list arrive as event.ports; ArrayBuffers
// in it move into the message and are left detached.
import { DOMException, toDOMException } from './dom_exception.js';
import { defineEventHandler, Event, EventTarget, fireEvent } from './events.js';
import { native } from './native.js';
import { cloneValue } from './structured_clone.js';
import { setTimeout } from './timers.js';

export class MessageEvent extends Event {
  #init;
  constructor(type, eventInitDict = undefined) {
    if (arguments.length < 1) {
      throw new TypeError('Failed to construct \'MessageEvent\': 1 argument required, but only 0 ' +
                          'present.');
    }
    super(type, eventInitDict);
    const init = eventInitDict == null ? {} : eventInitDict;
    const ports = init.ports === undefined ? [] : Array.from(init.ports);
    this.#init = {
      data: init.data === undefined ? null : init.data,
      origin: init.origin === undefined ? '' : String(init.origin),
      lastEventId: init.lastEventId === undefined ? '' : String(init.lastEventId),
      source: init.source === undefined ? null : init.source,
      ports: Object.freeze(ports),
    };
  }
  get data() {
    return this.#init.data;
  }
  get origin() {
    return this.#init.origin;
  }
  get lastEventId() {
    return this.#init.lastEventId;
  }
  get source() {
    return this.#init.source;
  }
  get ports() {
    return this.#init.ports;
  }
}
Object.defineProperty(MessageEvent.prototype, Symbol.toStringTag, {
  value: 'MessageEvent', configurable: true,
});

const kConstructing = Symbol('constructing');

let portState;  // (port) => its internal state; set by MessagePort's static block

export class MessagePort extends EventTarget {
  #s;
  static {
    portState = (port) => {
      if (port == null || !(#s in port)) {
        throw new TypeError('Illegal invocation: the receiver is not a MessagePort');
      }
      return port.#s;
    };
  }

  constructor(key = undefined) {
    if (key !== kConstructing) throw new TypeError('Illegal constructor');
    super();
    // entangled: the other port, or null once either side closed.
    // queue: messages waiting for delivery, [{ data, ports }], in posting order.
    // scheduled: whether a delivery task is pending on the timer queue.
    this.#s = { entangled: null, closed: false, started: false, queue: [], scheduled: false };
  }

  postMessage(message, transfer = undefined) {
    const s = portState(this);
    if (arguments.length < 1) {
      throw new TypeError('Failed to execute \'postMessage\' on \'MessagePort\': 1 argument ' +
                          'required, but only 0 present.');
    }
    const list = transferList(transfer);
    const ports = [];
    const buffers = [];
    for (const item of list) {
      if (item === this) {
        throw new DOMException('postMessage: a port cannot transfer itself', 'DataCloneError');
      }
      if (item instanceof MessagePort) {
        if (ports.includes(item)) {
          throw new DOMException('postMessage: the transfer list names a port twice',
                                 'DataCloneError');
        }
        ports.push(item);
      } else if (item instanceof ArrayBuffer) {
        buffers.push(item);  // the native clone checks for duplicates and detached buffers
      } else {
        throw new DOMException('postMessage: only MessagePorts and ArrayBuffers can be ' +
                               'transferred', 'DataCloneError');
      }
    }
    let data;
    try {
      data = cloneValue(message, buffers);
    } catch (error) {
      throw toDOMException(error);  // a DataCloneError, before anything is sent
    }
    const target = s.entangled;
    if (target === null || ports.includes(target)) return;  // a doomed message
    const t = portState(target);
    t.queue.push({ data, ports });
    schedule(target, t);
  }

  start() {
    const s = portState(this);
    if (s.started) return;
    s.started = true;
    schedule(this, s);
  }

  close() {
    const s = portState(this);
    s.closed = true;
    s.queue = [];
    const other = s.entangled;
    if (other !== null) {
      portState(other).entangled = null;
      s.entangled = null;
    }
  }
}
defineEventHandler(MessagePort.prototype, 'message', (port) => port.start());
defineEventHandler(MessagePort.prototype, 'messageerror');
Object.defineProperty(MessagePort.prototype, Symbol.toStringTag, {
  value: 'MessagePort', configurable: true,
});

// postMessage's second argument: a sequence of transferables, or { transfer }.
function transferList(transfer) {
  if (transfer === undefined || transfer === null) return [];
  if (typeof transfer[Symbol.iterator] === 'function') return Array.from(transfer);
  if (typeof transfer === 'object') {
    return transfer.transfer === undefined ? [] : Array.from(transfer.transfer);
  }
  throw new TypeError('postMessage: the transfer argument must be a sequence or an options object');
}

// One task per message, so the microtasks a listener queues run before the next message.
function schedule(port, s) {
  if (s.scheduled || !s.started || s.closed || s.queue.length === 0) return;
  s.scheduled = true;
  setTimeout(() => {
    s.scheduled = false;
    if (s.closed || s.queue.length === 0) return;
    const { data, ports } = s.queue.shift();
    schedule(port, s);
    fireEvent(port, new MessageEvent('message', { data, ports }));
  }, 0);
}

export class MessageChannel {
  #port1 = new MessagePort(kConstructing);
  #port2 = new MessagePort(kConstructing);
  constructor() {
    portState(this.#port1).entangled = this.#port2;
    portState(this.#port2).entangled = this.#port1;
  }
  get port1() {
    return this.#port1;
  }
  get port2() {
    return this.#port2;
  }
}
Object.defineProperty(MessageChannel.prototype, Symbol.toStringTag, {
  value: 'MessageChannel', configurable: true,
});
