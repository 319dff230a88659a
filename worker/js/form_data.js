// FormData (https://xhr.spec.whatwg.org/#interface-formdata) and its two wire forms:
// multipart/form-data (serialised per HTML's encoding algorithm, parsed with
// @remix-run/multipart-parser per Fetch's multipart/form-data parser) and
// application/x-www-form-urlencoded (parsed per the URL spec).
import { Blob, blobBytes, File, fileFromBytes } from './blob.js';
import { TextDecoder } from './encoding.js';
import { lazyModule } from './lazy_module.js';
import { native } from './native.js';

// @remix-run/multipart-parser (with @remix-run/headers), loaded on the first multipart body
// parsed: a context made from the startup snapshot then only pays for it when it needs it
// (url.js explains the mechanism).
const multipart = lazyModule(() => require('@remix-run/multipart-parser'));

const kEntries = Symbol('entries');

function entriesOf(self, method) {
  if (self == null || self[kEntries] === undefined) {
    throw new TypeError(`FormData.prototype.${method}: the receiver is not a FormData`);
  }
  return self[kEntries];
}

function requireArgs(count, needed, method) {
  if (count < needed) {
    throw new TypeError(`FormData.${method}: ${needed} arguments required, but only ${count} ` +
                        'present');
  }
}

// https://xhr.spec.whatwg.org/#create-an-entry
function makeEntry(name, value, filename, argCount, method) {
  const entryName = String(name);
  if (!(value instanceof Blob)) {
    if (argCount > 2) {
      throw new TypeError(`FormData.${method}: a filename is only allowed with a Blob value`);
    }
    return [entryName, String(value)];
  }
  // An explicit undefined filename counts as none (WebIDL optional argument).
  if (!(value instanceof File) || filename !== undefined) {
    const name = filename !== undefined ? String(filename) :
                 value instanceof File ? value.name : 'blob';
    const lastModified = value instanceof File ? value.lastModified : undefined;
    value = fileFromBytes(blobBytes(value), name, value.type, lastModified);
  }
  return [entryName, value];
}

export class FormData {
  constructor(form = undefined) {
    if (form !== undefined) {
      throw new TypeError('FormData: there are no form elements here, so no form argument');
    }
    this[kEntries] = [];  // [name, string | File] in order
  }
  append(name, value, filename = undefined) {
    const entries = entriesOf(this, 'append');
    requireArgs(arguments.length, 2, 'append');
    entries.push(makeEntry(name, value, filename, arguments.length, 'append'));
  }
  set(name, value, filename = undefined) {
    const entries = entriesOf(this, 'set');
    requireArgs(arguments.length, 2, 'set');
    const entry = makeEntry(name, value, filename, arguments.length, 'set');
    const i = entries.findIndex(([n]) => n === entry[0]);
    if (i < 0) {
      entries.push(entry);
      return;
    }
    entries[i] = entry;
    this[kEntries] = entries.filter(([n], j) => j <= i || n !== entry[0]);
  }
  delete(name) {
    const entries = entriesOf(this, 'delete');
    requireArgs(arguments.length, 1, 'delete');
    const n = String(name);
    this[kEntries] = entries.filter(([k]) => k !== n);
  }
  get(name) {
    const entries = entriesOf(this, 'get');
    requireArgs(arguments.length, 1, 'get');
    const n = String(name);
    const entry = entries.find(([k]) => k === n);
    return entry === undefined ? null : entry[1];
  }
  getAll(name) {
    const entries = entriesOf(this, 'getAll');
    requireArgs(arguments.length, 1, 'getAll');
    const n = String(name);
    return entries.filter(([k]) => k === n).map(([, v]) => v);
  }
  has(name) {
    const entries = entriesOf(this, 'has');
    requireArgs(arguments.length, 1, 'has');
    const n = String(name);
    return entries.some(([k]) => k === n);
  }
  forEach(callback, thisArg = undefined) {
    entriesOf(this, 'forEach');
    if (typeof callback !== 'function') {
      throw new TypeError('FormData.forEach: the callback is not a function');
    }
    for (const [name, value] of this) callback.call(thisArg, value, name, this);
  }
  // Iteration is live, as WebIDL's pair iterators are: it reads the list by index each step.
  *entries() {
    entriesOf(this, 'entries');
    for (let i = 0; i < this[kEntries].length; ++i) {
      const [name, value] = this[kEntries][i];
      yield [name, value];
    }
  }
  *keys() {
    for (const [name] of this.entries()) yield name;
  }
  *values() {
    for (const [, value] of this.entries()) yield value;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  get [Symbol.toStringTag]() {
    return 'FormData';
  }
}

// ---- multipart/form-data serialisation (HTML's multipart/form-data encoding algorithm) ----

// CR not followed by LF, and LF not preceded by CR, become CRLF.
function normalizeNewlines(text) {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

// Names and filenames go inside a quoted header parameter.
function escapeQuoted(text) {
  return text.replace(/\n/g, '%0A').replace(/\r/g, '%0D').replace(/"/g, '%22');
}

function randomBoundary() {
  const bytes = native.getRandomValues(new Uint8Array(16));
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return `----isolated-formdata-${hex}`;
}

// The multipart/form-data body of `formData` and the content type that names its boundary.
export function serializeMultipart(formData) {
  const boundary = randomBoundary();
  const pieces = [];
  let total = 0;
  const add = (bytes) => {
    pieces.push(bytes);
    total += bytes.length;
  };
  for (const [rawName, value] of formData[kEntries]) {
    const name = escapeQuoted(normalizeNewlines(rawName));
    if (typeof value === 'string') {
      add(native.encodeUtf8(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"` +
                            `\r\n\r\n${normalizeNewlines(value)}\r\n`));
    } else {
      const type = value.type === '' ? 'application/octet-stream' : value.type;
      add(native.encodeUtf8(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; ` +
                            `filename="${escapeQuoted(value.name)}"\r\nContent-Type: ${type}` +
                            '\r\n\r\n'));
      add(blobBytes(value));
      add(native.encodeUtf8('\r\n'));
    }
  }
  add(native.encodeUtf8(`--${boundary}--\r\n`));
  const body = new Uint8Array(total);
  let at = 0;
  for (const piece of pieces) {
    body.set(piece, at);
    at += piece.length;
  }
  return { bytes: body, type: `multipart/form-data; boundary=${boundary}` };
}

// ---- parsing ----

// The value of parameter `wanted` in a MIME type such as `multipart/form-data; boundary=x`, or
// null; the first occurrence wins (https://mimesniff.spec.whatwg.org/#parse-a-mime-type).
// A quoted value may escape characters with a backslash.
function mimeParameter(mimeType, wanted) {
  const s = mimeType;
  let i = s.indexOf(';');
  if (i < 0) return null;
  ++i;
  while (i < s.length) {
    while (i < s.length && ' \t\r\n'.includes(s[i])) ++i;
    let nameEnd = i;
    while (nameEnd < s.length && s[nameEnd] !== ';' && s[nameEnd] !== '=') ++nameEnd;
    const name = s.slice(i, nameEnd).toLowerCase();
    i = nameEnd + 1;
    if (nameEnd >= s.length || s[nameEnd] === ';') continue;
    let value = '';
    if (s[i] === '"') {
      for (++i; i < s.length && s[i] !== '"'; ++i) {
        if (s[i] === '\\' && i + 1 < s.length) ++i;
        value += s[i];
      }
      const semi = s.indexOf(';', i);
      i = semi < 0 ? s.length : semi + 1;
    } else {
      const semi = s.indexOf(';', i);
      value = s.slice(i, semi < 0 ? s.length : semi).replace(/[ \t\r\n]+$/, '');
      i = semi < 0 ? s.length : semi + 1;
    }
    if (name === wanted) return value;
  }
  return null;
}

// The essence (type/subtype, lower-cased) of a Content-Type value.
export function mimeEssence(contentType) {
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

// Fetch's multipart/form-data parser over a whole body. Throws TypeError for any malformed
// input. `bytes` bounds everything the parser holds, so its own size limits are lifted to it.
export function parseMultipartFormData(bytes, contentType) {
  const boundary = mimeParameter(contentType, 'boundary');
  if (boundary === null || boundary === '' || boundary.length > 70) {
    throw new TypeError('formData(): the multipart/form-data content type has no valid boundary');
  }
  const form = new FormData();
  const decoder = new TextDecoder();
  const { MultipartParseError, parseMultipart } = multipart();
  try {
    const limit = Math.max(bytes.length, 1);
    for (const part of parseMultipart(bytes, { boundary, maxFileSize: limit, maxTotalSize: limit,
                                               maxParts: limit })) {
      const name = part.name;
      if (name === undefined || name === null) {
        throw new TypeError('formData(): a multipart part has no name in Content-Disposition');
      }
      const filename = part.filename;
      if (filename !== undefined && filename !== null) {
        const type = part.headers['content-type'] ?? 'text/plain';
        form[kEntries].push([name, fileFromBytes(part.bytes, filename, type)]);
      } else {
        form[kEntries].push([name, decoder.decode(part.bytes)]);
      }
    }
  } catch (error) {
    if (error instanceof TypeError) throw error;
    if (error instanceof MultipartParseError) {
      throw new TypeError(`formData(): malformed multipart/form-data body: ${error.message}`);
    }
    throw new TypeError(`formData(): malformed multipart/form-data body: ${error}`);
  }
  return form;
}

// Percent-decodes `bytes` (https://url.spec.whatwg.org/#percent-decode), '+' already spaces.
function percentDecode(bytes) {
  const out = new Uint8Array(bytes.length);
  let n = 0;
  const hex = (b) => (b >= 0x30 && b <= 0x39) ? b - 0x30 : (b >= 0x41 && b <= 0x46) ? b - 0x37 :
                     (b >= 0x61 && b <= 0x66) ? b - 0x57 : -1;
  for (let i = 0; i < bytes.length; ++i) {
    const b = bytes[i];
    if (b === 0x25 && i + 2 < bytes.length && hex(bytes[i + 1]) >= 0 &&
        hex(bytes[i + 2]) >= 0) {
      out[n++] = hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]);
      i += 2;
    } else {
      out[n++] = b === 0x2B ? 0x20 : b;
    }
  }
  return out.subarray(0, n);
}

// The application/x-www-form-urlencoded parser (https://url.spec.whatwg.org/#urlencoded-parsing)
// into a FormData.
export function parseUrlencodedFormData(bytes) {
  const form = new FormData();
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x26, start);
    if (end < 0) end = bytes.length;
    if (end > start) {
      const sequence = bytes.subarray(start, end);
      const eq = sequence.indexOf(0x3D);
      const name = eq < 0 ? sequence : sequence.subarray(0, eq);
      const value = eq < 0 ? new Uint8Array(0) : sequence.subarray(eq + 1);
      form[kEntries].push([decoder.decode(percentDecode(name)),
                           decoder.decode(percentDecode(value))]);
    }
    start = end + 1;
  }
  return form;
}
