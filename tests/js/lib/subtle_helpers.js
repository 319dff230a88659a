// Helpers for the crypto.subtle tests: hex and UTF-8 conversion, and a check that a promise
// rejects with an error of a given name (DOMException names and TypeError alike).
import { assertArrayEquals } from './assert.js';

export function fromHex(hex) {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(i * 2, 2), 16);
  return bytes;
}

export function toHex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

export function utf8(text) {
  return new TextEncoder().encode(text);
}

export function assertBytes(actual, expectedHex, message = '') {
  assertArrayEquals(new Uint8Array(actual), fromHex(expectedHex), message);
}

// Awaits `promise` and checks that it rejects with an error named `name`; a DOMException
// name also requires a DOMException.
export async function rejectsWith(promise, name, message = '') {
  const where = message ? `${message}: ` : '';
  if (!(promise instanceof Promise)) throw new Error(`${where}expected a promise`);
  try {
    await promise;
  } catch (error) {
    if (error?.name !== name) {
      throw new Error(`${where}expected ${name}, got ${error?.name}: ${error?.message}`);
    }
    if (name !== 'TypeError' && !(error instanceof DOMException)) {
      throw new Error(`${where}expected a DOMException, got ${error}`);
    }
    return error;
  }
  throw new Error(`${where}expected a rejection with ${name}, the promise fulfilled`);
}
