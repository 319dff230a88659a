// Blob and File (https://w3c.github.io/FileAPI/). A Blob's bytes live in one immutable
// Uint8Array, flattened when it is made, so a body made from a Blob can hand its bytes over
// synchronously (Fetch's "extract a body" reads them directly) and slice() can share them.
// Every byte handed to user code is a copy.
import { concatBytes } from './bytes.js';
import { TextDecoder } from './encoding.js';
import { native } from './native.js';
import { streamOfBytes } from './streams.js';

const kBytes = Symbol('bytes');
const kType = Symbol('type');
const kName = Symbol('name');
const kLastModified = Symbol('lastModified');

// The type attribute: lower-cased, or '' when it holds anything outside U+0020..U+007E.
function normalizeType(type) {
  if (type === undefined) return '';
  const t = String(type);
  return /^[\x20-\x7E]*$/.test(t) ? t.toLowerCase() : '';
}

// WebIDL [Clamp] long long for slice()'s indices.
function clampIndex(value) {
  const n = Number(value);
  if (Number.isNaN(n)) return 0;
  return Math.trunc(Math.min(Math.max(n, -Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER));
}

function viewBytes(source) {
  return source instanceof ArrayBuffer ? new Uint8Array(source) :
         new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
}

// https://w3c.github.io/FileAPI/#process-blob-parts
function processParts(parts, endings) {
  if (parts === undefined) return new Uint8Array(0);
  if (parts === null || (typeof parts !== 'object' && typeof parts !== 'function') ||
      typeof parts[Symbol.iterator] !== 'function') {
    throw new TypeError('Blob: the parts must be an iterable object (a sequence)');
  }
  const chunks = [];
  let total = 0;
  for (const part of parts) {
    let bytes;
    if (part instanceof Blob) {
      bytes = part[kBytes];
    } else if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) {
      bytes = viewBytes(part).slice();
    } else {
      let text = String(part);
      if (endings === 'native') text = text.replace(/\r\n|\r/g, '\n');
      bytes = native.encodeUtf8(text);
    }
    chunks.push(bytes);
    total += bytes.length;
  }
  // A lone chunk is either fresh or another Blob's (immutable) bytes: no need to copy.
  if (chunks.length === 1) return chunks[0];
  return concatBytes(chunks, total);
}

function bagOptions(options, className) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' && typeof options !== 'function') {
    throw new TypeError(`${className}: the options must be an object`);
  }
  return options;
}

function blobOf(self, method) {
  if (self == null || self[kBytes] === undefined) {
    throw new TypeError(`Blob.prototype.${method}: the receiver is not a Blob`);
  }
  return self[kBytes];
}

export class Blob {
  constructor(blobParts = undefined, options = undefined) {
    const opts = bagOptions(options, 'Blob');
    const endings = opts.endings === undefined ? 'transparent' : String(opts.endings);
    if (endings !== 'transparent' && endings !== 'native') {
      throw new TypeError(`Blob: endings must be "transparent" or "native", got "${endings}"`);
    }
    this[kBytes] = processParts(blobParts, endings);
    this[kType] = normalizeType(opts.type);
  }
  get size() {
    return blobOf(this, 'size').length;
  }
  get type() {
    blobOf(this, 'type');
    return this[kType];
  }
  slice(start = undefined, end = undefined, contentType = undefined) {
    const bytes = blobOf(this, 'slice');
    const size = bytes.length;
    const from = start === undefined ? 0 : clampIndex(start);
    const to = end === undefined ? size : clampIndex(end);
    const relativeStart = from < 0 ? Math.max(size + from, 0) : Math.min(from, size);
    const relativeEnd = to < 0 ? Math.max(size + to, 0) : Math.min(to, size);
    const blob = new Blob();
    blob[kBytes] = bytes.subarray(relativeStart, Math.max(relativeEnd, relativeStart));
    blob[kType] = normalizeType(contentType);
    return blob;
  }
  stream() {
    return streamOfBytes(blobOf(this, 'stream'));
  }
  async text() {
    return new TextDecoder().decode(blobOf(this, 'text'));
  }
  async arrayBuffer() {
    return blobOf(this, 'arrayBuffer').slice().buffer;
  }
  async bytes() {
    return blobOf(this, 'bytes').slice();
  }
  get [Symbol.toStringTag]() {
    return 'Blob';
  }
}

export class File extends Blob {
  constructor(fileBits, fileName, options = undefined) {
    if (arguments.length < 2) {
      throw new TypeError(`File: 2 arguments required, but only ${arguments.length} present`);
    }
    const opts = bagOptions(options, 'File');
    super(fileBits, opts);
    this[kName] = String(fileName);
    this[kLastModified] = opts.lastModified === undefined ? Date.now() :
                                                             clampIndex(opts.lastModified);
  }
  get name() {
    if (this == null || this[kName] === undefined) {
      throw new TypeError('File.prototype.name: the receiver is not a File');
    }
    return this[kName];
  }
  get lastModified() {
    if (this == null || this[kLastModified] === undefined) {
      throw new TypeError('File.prototype.lastModified: the receiver is not a File');
    }
    return this[kLastModified];
  }
  get webkitRelativePath() {
    return '';
  }
  get [Symbol.toStringTag]() {
    return 'File';
  }
}

// The blob's bytes, read-only by convention: for the body mixin and FormData serialisation,
// which copy them before any user code can see them.
export function blobBytes(blob) {
  return blob[kBytes];
}

// A Blob of `bytes` (owned by the Blob from now on) without copying them again.
export function blobFromBytes(bytes, type) {
  const blob = new Blob();
  blob[kBytes] = bytes;
  blob[kType] = normalizeType(type);
  return blob;
}

// A File of `bytes` (owned by the File from now on) without copying them again.
export function fileFromBytes(bytes, name, type, lastModified = Date.now()) {
  const file = new File([], name, { type, lastModified });
  file[kBytes] = bytes;
  return file;
}
