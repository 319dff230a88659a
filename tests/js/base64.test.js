// atob and btoa against HTML's forgiving-base64 (https://infra.spec.whatwg.org/#forgiving-base64).
import { assertEquals, assertThrows } from './lib/assert.js';

export function btoaEncodes() {
  assertEquals(btoa(''), '');
  assertEquals(btoa('f'), 'Zg==');
  assertEquals(btoa('fo'), 'Zm8=');
  assertEquals(btoa('foo'), 'Zm9v');
  assertEquals(btoa('foobar'), 'Zm9vYmFy');
  assertEquals(btoa('\u00ff\u00fe\u0000'), '//4A', 'Latin1 bytes');
  assertEquals(btoa(null), 'bnVsbA==', 'arguments are stringified');
  assertEquals(btoa(12), 'MTI=');
}

export function btoaRejectsNonLatin1() {
  assertThrows(() => btoa('\u0100'), 'InvalidCharacterError');
  assertThrows(() => btoa('\u20ac'), 'InvalidCharacterError');
  assertThrows(() => btoa('ok\u{1F600}'), 'InvalidCharacterError');
  assertThrows(() => btoa(), TypeError, 'the argument is required');
}

export function atobDecodes() {
  assertEquals(atob(''), '');
  assertEquals(atob('Zg=='), 'f');
  assertEquals(atob('Zm8='), 'fo');
  assertEquals(atob('Zm9v'), 'foo');
  assertEquals(atob('//4A'), '\u00ff\u00fe\u0000');
  assertEquals(atob('Zg'), 'f', 'padding is optional');
  assertEquals(atob('Zm8'), 'fo');
  assertEquals(atob('Zh=='), 'f', 'non-zero trailing bits are ignored');
  assertEquals(atob(null), '\u009e\u00e9e', 'arguments are stringified');
}

export function atobIgnoresAsciiWhitespace() {
  assertEquals(atob(' Zm9v\tYm\nFy\f\r '), 'foobar');
  assertEquals(atob('Zg =='), 'f', 'whitespace before the padding');
  assertThrows(() => atob('Zm9v\u00a0'), 'InvalidCharacterError', 'NBSP is not ASCII whitespace');
  assertThrows(() => atob('Zm9v\u000b'), 'InvalidCharacterError', 'VT is not ASCII whitespace');
}

export function atobRejectsBadInput() {
  for (const input of ['Z', 'Zg=', 'Zg===', '=Zg=', 'Zm9v=', 'Z=g=', 'Zm9v-_', 'Zm\u00e9v', 'Zg=a']) {
    assertThrows(() => atob(input), 'InvalidCharacterError', JSON.stringify(input));
  }
  assertThrows(() => atob(undefined), 'InvalidCharacterError', '"undefined" has 9 characters');
  assertThrows(() => atob(), TypeError, 'the argument is required');
}

export function invalidCharacterErrorIsAnError() {
  try {
    atob('*');
  } catch (error) {
    assertEquals(error instanceof Error, true);
    assertEquals(error.name, 'InvalidCharacterError');
    return;
  }
  throw new Error('atob did not throw');
}

export function roundTripsEveryByte() {
  let all = '';
  for (let i = 0; i < 256; i++) all += String.fromCharCode(i);
  assertEquals(atob(btoa(all)), all);
}
