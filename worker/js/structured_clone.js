// structuredClone(value, { transfer }) (https://html.spec.whatwg.org/#dom-structuredclone): the
// copy is made by V8's ValueSerializer (worker/web_bindings.cc). ArrayBuffers in the transfer
// list move to the copy and are left detached. MessagePorts cannot be transferred here: they are
// JavaScript objects (message_channel.js) that V8 10.2's serializer cannot single out, so the
// copy could not hold a port; naming one is a DataCloneError (MessagePort.postMessage transfers
// ports itself).
//
// DOMException and CryptoKey are serializable: both are HostObjects (host_object.js), which V8's
// serializer hands to the native side, and toCloneable/fromCloneable turn them into plain data
// and back. A CryptoKey keeps its internal slots (the key material included), as WebCrypto's
// serialization steps say.
import { DOMException, isDOMException, toDOMException } from './dom_exception.js';
import { adopt } from './host_object.js';
import { lazyModule } from './lazy_module.js';
import { native } from './native.js';
import { subtleModule } from './subtle_lazy.js';

// crypto_key.js, once crypto.subtle has loaded it: no CryptoKey can exist before.
const cryptoKeys = lazyModule(() => require('./crypto_key.js'));

function toCloneable(object) {
  if (isDOMException(object)) {
    return { kind: 'DOMException', name: object.name, message: object.message };
  }
  if (subtleModule.loaded() && cryptoKeys().isCryptoKey(object)) {
    const { type, extractable, algorithm, usages, material } = cryptoKeys().slotsOf(object);
    return { kind: 'CryptoKey', type, extractable, algorithm, usages, material };
  }
  return undefined;
}

// Makes `placeholder` (made by the native deserialiser) the object `data` describes.
function fromCloneable(placeholder, data) {
  if (data.kind === 'DOMException') {
    adopt(placeholder, () => new DOMException(data.message, data.name));
    return;
  }
  const { type, extractable, algorithm, usages, material } = data;
  adopt(placeholder, () => cryptoKeys().createKey(type, extractable, algorithm, usages, material));
}

// native.structuredClone with the host-object hooks: structuredClone and postMessage.
export function cloneValue(value, transfer) {
  return native.structuredClone(value, transfer, toCloneable, fromCloneable);
}

// StructuredSerializeOptions' `transfer`, as WebIDL converts a sequence<object>.
export function transferOption(options, what) {
  if (options === undefined || options === null) return [];
  if (typeof options !== 'object' && typeof options !== 'function') {
    throw new TypeError(`${what}: the options must be an object`);
  }
  const transfer = options.transfer;
  if (transfer === undefined) return [];
  if (transfer === null || typeof transfer[Symbol.iterator] !== 'function') {
    throw new TypeError(`${what}: options.transfer must be a sequence of objects`);
  }
  const list = Array.from(transfer);
  for (const item of list) {
    if (item === null || (typeof item !== 'object' && typeof item !== 'function')) {
      throw new TypeError(`${what}: options.transfer must be a sequence of objects`);
    }
  }
  return list;
}

export function structuredClone(value, options = undefined) {
  if (arguments.length < 1) {
    throw new TypeError('structuredClone: 1 argument required, but only 0 present');
  }
  const transfer = transferOption(options, 'structuredClone');
  // Recognised by its tag so that this module does not load message_channel.js (main.js may
  // load it lazily); anything but an ArrayBuffer is a DataCloneError either way.
  if (transfer.some((item) => Object.prototype.toString.call(item) === '[object MessagePort]')) {
    throw new DOMException('structuredClone: MessagePorts cannot be transferred by ' +
                           'structuredClone here (use MessagePort.postMessage)', 'DataCloneError');
  }
  try {
    return cloneValue(value, transfer);
  } catch (error) {
    throw toDOMException(error);
  }
}
