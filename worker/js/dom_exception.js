// DOMException (https://webidl.spec.whatwg.org/#idl-DOMException): a name, a message and the
// legacy code of the names that have one. Instances are Errors (the prototype chain reaches
// Error.prototype and they carry a stack) so that `instanceof Error`, console output and
// uncaught-error reports treat them like any other error.
import { HostObject } from './host_object.js';

// The error names table of WebIDL §2.8.1; names not listed have code 0.
const kLegacyCodes = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5,
  NoModificationAllowedError: 7, NotFoundError: 8, NotSupportedError: 9, InUseAttributeError: 10,
  InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
  InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19,
  AbortError: 20, URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23,
  InvalidNodeTypeError: 24, DataCloneError: 25,
};

// The constants of the interface, on both the constructor and the prototype.
const kConstants = {
  INDEX_SIZE_ERR: 1, DOMSTRING_SIZE_ERR: 2, HIERARCHY_REQUEST_ERR: 3, WRONG_DOCUMENT_ERR: 4,
  INVALID_CHARACTER_ERR: 5, NO_DATA_ALLOWED_ERR: 6, NO_MODIFICATION_ALLOWED_ERR: 7,
  NOT_FOUND_ERR: 8, NOT_SUPPORTED_ERR: 9, INUSE_ATTRIBUTE_ERR: 10, INVALID_STATE_ERR: 11,
  SYNTAX_ERR: 12, INVALID_MODIFICATION_ERR: 13, NAMESPACE_ERR: 14, INVALID_ACCESS_ERR: 15,
  VALIDATION_ERR: 16, TYPE_MISMATCH_ERR: 17, SECURITY_ERR: 18, NETWORK_ERR: 19, ABORT_ERR: 20,
  URL_MISMATCH_ERR: 21, QUOTA_EXCEEDED_ERR: 22, TIMEOUT_ERR: 23, INVALID_NODE_TYPE_ERR: 24,
  DATA_CLONE_ERR: 25,
};

const kState = Symbol('DOMException');

// Whether `value` is a DOMException (its state, not its prototype chain).
export function isDOMException(value) {
  return typeof value === 'object' && value !== null &&
         Object.prototype.hasOwnProperty.call(value, kState);
}

function state(self, member) {
  const s = self != null ? self[kState] : undefined;
  if (s === undefined) {
    throw new TypeError(`DOMException.prototype.${member} called on an object that is not a ` +
                        'DOMException');
  }
  return s;
}

// A HostObject (host_object.js) so that structuredClone can copy it (WebIDL: DOMException is
// serializable, as its name and message).
export class DOMException extends HostObject {
  constructor(message = '', name = 'Error') {
    super();
    Object.defineProperty(this, kState, {
      value: { message: String(message), name: String(name) },
    });
    // Own `stack`, as Error instances have; its first line reads "<name>: <message>".
    Error.captureStackTrace(this, DOMException);
  }
  get name() {
    return state(this, 'name').name;
  }
  get message() {
    return state(this, 'message').message;
  }
  get code() {
    return kLegacyCodes[state(this, 'code').name] ?? 0;
  }
}

Object.setPrototypeOf(DOMException.prototype, Error.prototype);
Object.defineProperty(DOMException.prototype, Symbol.toStringTag, {
  value: 'DOMException', configurable: true,
});
for (const [name, value] of Object.entries(kConstants)) {
  const desc = { value, enumerable: true };
  Object.defineProperty(DOMException, name, desc);
  Object.defineProperty(DOMException.prototype, name, desc);
}
for (const name of ['name', 'message', 'code']) {
  const desc = Object.getOwnPropertyDescriptor(DOMException.prototype, name);
  Object.defineProperty(DOMException.prototype, name, { ...desc, enumerable: true });
}

// Native bindings (worker/web_bindings.cc) throw plain Errors named like a DOMException, as they
// cannot reach this class; wrapping a native function turns those into DOMExceptions.
const kNames = new Set([...Object.keys(kLegacyCodes), 'EncodingError', 'NotReadableError',
                        'UnknownError', 'ConstraintError', 'DataError', 'TransactionInactiveError',
                        'ReadOnlyError', 'VersionError', 'OperationError', 'NotAllowedError',
                        'OptOutError']);

export function toDOMException(error) {
  if (error instanceof Error && Object.getPrototypeOf(error) === Error.prototype &&
      kNames.has(error.name)) {
    return new DOMException(error.message, error.name);
  }
  return error;
}

export function throwingDOMExceptions(nativeFunction) {
  const name = nativeFunction.name;
  return {
    [name](...args) {
      try {
        return nativeFunction(...args);
      } catch (error) {
        throw toDOMException(error);
      }
    },
  }[name];
}
