// FormData (https://xhr.spec.whatwg.org/#interface-formdata): entries, File/Blob values and
// filenames, and iteration.
import { assert, assertArrayEquals, assertEquals, assertThrows } from './lib/assert.js';

export function appendGetGetAllHas() {
  const form = new FormData();
  form.append('a', '1');
  form.append('b', 2);
  form.append('a', '3');
  assertEquals(form.get('a'), '1');
  assertEquals(form.get('b'), '2', 'values are stringified');
  assertArrayEquals(form.getAll('a'), ['1', '3']);
  assertArrayEquals(form.getAll('none'), []);
  assertEquals(form.get('none'), null);
  assertEquals(form.has('a'), true);
  assertEquals(form.has('c'), false);
}

export function setReplacesTheFirstAndDropsTheRest() {
  const form = new FormData();
  form.append('a', '1');
  form.append('b', 'x');
  form.append('a', '2');
  form.set('a', '9');
  assertArrayEquals([...form.keys()], ['a', 'b']);
  assertArrayEquals(form.getAll('a'), ['9']);
  form.set('c', 'new');
  assertArrayEquals([...form.keys()], ['a', 'b', 'c']);
  form.delete('a');
  assertArrayEquals([...form.keys()], ['b', 'c']);
}

export function blobValuesBecomeFiles() {
  const form = new FormData();
  form.append('blob', new Blob(['x'], { type: 'text/plain' }));
  const blob = form.get('blob');
  assert(blob instanceof File, 'a Blob value is wrapped in a File');
  assertEquals(blob.name, 'blob', 'its default name is "blob"');
  assertEquals(blob.type, 'text/plain');

  const file = new File(['y'], 'orig.txt', { lastModified: 5 });
  form.append('file', file);
  assertEquals(form.get('file').name, 'orig.txt');
  form.append('renamed', file, 'new.txt');
  assertEquals(form.get('renamed').name, 'new.txt', 'a filename argument renames');
  assertEquals(form.get('renamed').lastModified, 5);
  form.set('named', new Blob(['z']), 'z.bin');
  assertEquals(form.get('named').name, 'z.bin');
  form.append('undefinedName', new Blob(['u']), undefined);
  assertEquals(form.get('undefinedName').name, 'blob', 'an undefined filename counts as none');
}

export function argumentErrors() {
  const form = new FormData();
  assertThrows(() => form.append('a'), TypeError, 'append needs two arguments');
  assertThrows(() => form.set('a'), TypeError);
  assertThrows(() => form.append('a', 'string', 'name.txt'), TypeError,
               'a filename needs a Blob value');
  assertThrows(() => new FormData({}), TypeError, 'no form elements to read');
  assertThrows(() => FormData.prototype.get.call({}, 'a'), TypeError);
}

export function iteration() {
  const form = new FormData();
  form.append('k1', 'v1');
  form.append('k2', 'v2');
  assertEquals(JSON.stringify([...form]), '[["k1","v1"],["k2","v2"]]');
  assertEquals(JSON.stringify([...form.entries()]), '[["k1","v1"],["k2","v2"]]');
  assertArrayEquals([...form.values()], ['v1', 'v2']);
  const seen = [];
  form.forEach(function (value, key, owner) {
    seen.push(`${key}=${value}`);
    assertEquals(owner, form);
    assertEquals(this.tag, 'this');
  }, { tag: 'this' });
  assertArrayEquals(seen, ['k1=v1', 'k2=v2']);
  assertEquals(Object.prototype.toString.call(form), '[object FormData]');
}
