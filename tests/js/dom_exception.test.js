// DOMException (https://webidl.spec.whatwg.org/#idl-DOMException): names, legacy codes and
// constants, Error-ness and the shape of the interface.
import { assert, assertEquals, assertThrows } from './lib/assert.js';

export function constructorDefaults() {
  const plain = new DOMException();
  assertEquals(plain.name, 'Error');
  assertEquals(plain.message, '');
  assertEquals(plain.code, 0);
  const named = new DOMException('went wrong', 'NotFoundError');
  assertEquals(named.name, 'NotFoundError');
  assertEquals(named.message, 'went wrong');
  assertEquals(named.code, 8);
  assertEquals(new DOMException(undefined, undefined).name, 'Error', 'undefined means default');
  assertEquals(new DOMException(null, null).message, 'null', 'other values are stringified');
}

export function legacyCodes() {
  const codes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
    NotSupportedError: 9, InUseAttributeError: 10, InvalidStateError: 11, SyntaxError: 12,
    InvalidModificationError: 13, NamespaceError: 14, InvalidAccessError: 15,
    TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20,
    URLMismatchError: 21, QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24,
    DataCloneError: 25, EncodingError: 0, NotReadableError: 0, OperationError: 0,
    DataError: 0, NotAllowedError: 0, ConstraintError: 0, ValidationError: 0, Custom: 0,
  };
  for (const [name, code] of Object.entries(codes)) {
    assertEquals(new DOMException('', name).code, code, name);
  }
}

export function constants() {
  const constants = {
    INDEX_SIZE_ERR: 1, DOMSTRING_SIZE_ERR: 2, HIERARCHY_REQUEST_ERR: 3, WRONG_DOCUMENT_ERR: 4,
    INVALID_CHARACTER_ERR: 5, NO_DATA_ALLOWED_ERR: 6, NO_MODIFICATION_ALLOWED_ERR: 7,
    NOT_FOUND_ERR: 8, NOT_SUPPORTED_ERR: 9, INUSE_ATTRIBUTE_ERR: 10, INVALID_STATE_ERR: 11,
    SYNTAX_ERR: 12, INVALID_MODIFICATION_ERR: 13, NAMESPACE_ERR: 14, INVALID_ACCESS_ERR: 15,
    VALIDATION_ERR: 16, TYPE_MISMATCH_ERR: 17, SECURITY_ERR: 18, NETWORK_ERR: 19, ABORT_ERR: 20,
    URL_MISMATCH_ERR: 21, QUOTA_EXCEEDED_ERR: 22, TIMEOUT_ERR: 23, INVALID_NODE_TYPE_ERR: 24,
    DATA_CLONE_ERR: 25,
  };
  const instance = new DOMException();
  for (const [name, value] of Object.entries(constants)) {
    assertEquals(DOMException[name], value, `DOMException.${name}`);
    assertEquals(instance[name], value, `the prototype's ${name}`);
    const desc = Object.getOwnPropertyDescriptor(DOMException, name);
    assertEquals(desc.writable || desc.configurable, false, `${name} is read-only`);
  }
}

export function isAnError() {
  const error = new DOMException('boom', 'SyntaxError');
  assert(error instanceof DOMException, 'instanceof DOMException');
  assert(error instanceof Error, 'instanceof Error');
  assertEquals(Object.getPrototypeOf(DOMException.prototype), Error.prototype);
  assertEquals(String(error), 'SyntaxError: boom', 'Error.prototype.toString');
  assertEquals(typeof error.stack, 'string');
  assert(error.stack.startsWith('SyntaxError: boom'),
         `the stack starts with the name: ${error.stack}`);
  assertEquals(Object.prototype.toString.call(error), '[object DOMException]');
  assertThrows(() => { throw error; }, DOMException);
}

export function attributesAreAccessorsOnThePrototype() {
  const error = new DOMException('m', 'AbortError');
  assertEquals(Object.getOwnPropertyNames(error).includes('message'), false,
               'message is not an own property');
  for (const name of ['name', 'message', 'code']) {
    const desc = Object.getOwnPropertyDescriptor(DOMException.prototype, name);
    assertEquals(typeof desc.get, 'function', `${name} is a getter`);
    assertEquals(desc.set, undefined, `${name} is read-only`);
  }
  assertThrows(() => Object.getOwnPropertyDescriptor(DOMException.prototype, 'name').get.call({}),
               TypeError, 'a brand check');
  assertThrows(() => DOMException('x'), TypeError, 'DOMException needs new');
}

export function subclassing() {
  class MyError extends DOMException {
    constructor(message) {
      super(message, 'NotSupportedError');
    }
  }
  const error = new MyError('nope');
  assertEquals(error.name, 'NotSupportedError');
  assertEquals(error.code, 9);
  assert(error instanceof DOMException && error instanceof Error, 'the chain');
}

export function nativeFunctionsThrowDOMExceptions() {
  const cases = [
    [() => atob('*'), 'InvalidCharacterError', 5],
    [() => btoa('\u0100'), 'InvalidCharacterError', 5],
    [() => structuredClone(() => {}), 'DataCloneError', 25],
    [() => new MessageChannel().port1.postMessage(Symbol('s')), 'DataCloneError', 25],
  ];
  for (const [fn, name, code] of cases) {
    try {
      fn();
      throw new Error(`${name}: no exception`);
    } catch (error) {
      assert(error instanceof DOMException, `${name} is a DOMException: ${error}`);
      assertEquals(error.name, name);
      assertEquals(error.code, code);
    }
  }
  assertThrows(() => atob(), TypeError, 'argument errors stay TypeErrors');
  assertEquals(atob.name, 'atob');
  assertEquals(structuredClone.name, 'structuredClone');
}
