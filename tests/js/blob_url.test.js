// URL.createObjectURL / revokeObjectURL, and fetch() of blob: URLs within the context.
import { assert, assertEquals, assertRejects, assertThrows } from './lib/assert.js';

export async function createdUrlFetchesTheBlob() {
  const blob = new Blob(['hello ', 'blob'], { type: 'text/plain' });
  const url = URL.createObjectURL(blob);
  assert(/^blob:null\/[0-9a-f-]{36}$/.test(url), url);
  const response = await fetch(url);
  assertEquals(response.status, 200);
  assertEquals(response.url, url);
  assertEquals(response.headers.get('content-type'), 'text/plain');
  assertEquals(response.headers.get('content-length'), '10');
  assertEquals(await response.text(), 'hello blob');
  // Twice, and with a fragment.
  assertEquals(await (await fetch(url + '#part')).text(), 'hello blob');
  URL.revokeObjectURL(url);
}

export async function revokedUrlIsANetworkError() {
  const url = URL.createObjectURL(new File(['x'], 'x.txt'));
  URL.revokeObjectURL(url);
  await assertRejects(() => fetch(url), TypeError);
  URL.revokeObjectURL(url);  // twice is harmless
  await assertRejects(() => fetch('blob:null/00000000-0000-4000-8000-000000000000'), TypeError);
}

export async function onlyGet() {
  const url = URL.createObjectURL(new Blob(['x']));
  await assertRejects(() => fetch(url, { method: 'POST', body: 'y' }), TypeError);
  const response = await fetch(url);
  assertEquals(response.headers.has('content-type'), false, 'a blob without type');
  URL.revokeObjectURL(url);
}

export function onlyBlobs() {
  assertThrows(() => URL.createObjectURL('text'), TypeError);
  assertThrows(() => URL.createObjectURL(), TypeError);
  assertEquals(typeof URL.revokeObjectURL, 'function');
}
