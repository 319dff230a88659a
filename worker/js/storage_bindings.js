// The storage bindings a script finds in `env` (and as globals in service-worker syntax):
// KV (Cloudflare's KVNamespace), a SQL database (D1Database) and object storage (R2Bucket).
// Every operation is one message to the supervisor, which performs it on the configured
// backend (native.bindingCall; ipc/protocol.h rules 23-25; docs/bindings.md). Arguments travel
// as JSON, values as bytes. Errors reject with the supervisor's message (for SQL, the
// engine's own).
import { native } from './native.js';
import { fetchThrough } from './fetch.js';

const kMaxValueBytes = 25 * 1024 * 1024;
const kMaxBulkKeys = 100;

async function call(binding, op, args, value) {
  const [payload, bytes] = await native.bindingCall(binding, op, JSON.stringify(args),
                                                    value ?? null);
  return [JSON.parse(payload), bytes ?? new Uint8Array(0)];
}

function decodeText(bytes) {
  return new TextDecoder().decode(bytes);
}

function bytesStream(bytes) {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

function exactBuffer(bytes) {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer : bytes.slice().buffer;
}

// A value to store: string, ArrayBuffer, view, ReadableStream or Blob, as a string or bytes.
async function valueBytes(value, what) {
  if (typeof value === 'string' || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return value;
  }
  if (value instanceof Blob) return new Uint8Array(await value.arrayBuffer());
  if (value instanceof ReadableStream) {
    const chunks = [];
    let total = 0;
    const reader = value.getReader();
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      const piece = typeof chunk === 'string' ? new TextEncoder().encode(chunk)
        : chunk instanceof ArrayBuffer ? new Uint8Array(chunk)
          : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      total += piece.byteLength;
      if (total > kMaxValueBytes) {
        reader.cancel().catch(() => {});
        throw new TypeError(`${what}: the stream is over ${kMaxValueBytes} bytes`);
      }
      chunks.push(piece);
    }
    const joined = new Uint8Array(total);
    let at = 0;
    for (const piece of chunks) {
      joined.set(piece, at);
      at += piece.byteLength;
    }
    return joined;
  }
  throw new TypeError(`${what}: the value must be a string, ArrayBuffer, ArrayBufferView, ` +
                      'ReadableStream or Blob');
}

// ---- KV ----------------------------------------------------------------------------------

const kKvTypes = ['text', 'json', 'arrayBuffer', 'stream'];

function kvType(options) {
  const type = typeof options === 'string' ? options : (options?.type ?? 'text');
  if (!kKvTypes.includes(type)) {
    throw new TypeError(`KV get(): unknown type "${type}" (text, json, arrayBuffer or stream)`);
  }
  return type;
}

function kvDecode(bytes, type) {
  switch (type) {
    case 'json': return JSON.parse(decodeText(bytes));
    case 'arrayBuffer': return exactBuffer(bytes);
    case 'stream': return bytesStream(bytes);
    default: return decodeText(bytes);
  }
}

export class KVNamespace {
  #name;
  constructor(name) { this.#name = name; }

  async #getOne(key, type) {
    const [info, bytes] = await call(this.#name, 'get', { key: String(key) });
    if (!info.found) return { value: null, metadata: null };
    return { value: kvDecode(bytes, type), metadata: info.metadata ?? null };
  }

  async #getMany(keys, type, withMetadata) {
    if (keys.length > kMaxBulkKeys) {
      throw new TypeError(`KV get(): at most ${kMaxBulkKeys} keys at once`);
    }
    if (type === 'stream' || type === 'arrayBuffer') {
      throw new TypeError(`KV get(): type "${type}" is not supported with several keys`);
    }
    const results = await Promise.all(keys.map((key) => this.#getOne(key, type)));
    return new Map(keys.map((key, i) => [key, withMetadata ? results[i] : results[i].value]));
  }

  async get(key, options) {
    const type = kvType(options);
    if (Array.isArray(key)) return this.#getMany(key, type, false);
    return (await this.#getOne(key, type)).value;
  }

  async getWithMetadata(key, options) {
    const type = kvType(options);
    if (Array.isArray(key)) return this.#getMany(key, type, true);
    const result = await this.#getOne(key, type);
    return { value: result.value, metadata: result.metadata, cacheStatus: null };
  }

  async put(key, value, options = {}) {
    const bytes = await valueBytes(value, 'KV put()');
    const args = { key: String(key) };
    if (options.expiration !== undefined) args.expiration = Number(options.expiration);
    if (options.expirationTtl !== undefined) args.expirationTtl = Number(options.expirationTtl);
    if (options.metadata !== undefined && options.metadata !== null) {
      args.metadata = options.metadata;
    }
    await call(this.#name, 'put', args, bytes);
  }

  async delete(key) {
    await call(this.#name, 'delete', { key: String(key) });
  }

  async list(options = {}) {
    const args = {};
    if (options.prefix != null) args.prefix = String(options.prefix);
    if (options.limit != null) args.limit = Number(options.limit);
    if (options.cursor != null && options.cursor !== '') args.cursor = String(options.cursor);
    const [result] = await call(this.#name, 'list', args);
    return { keys: result.keys, list_complete: result.list_complete,
             cursor: result.cursor ?? '', cacheStatus: null };
  }
}

// ---- D1 ----------------------------------------------------------------------------------

function d1Param(value, index) {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`D1_TYPE_ERROR: parameter ${index + 1} is not finite`);
    return value;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof ArrayBuffer) return { bytes: Array.from(new Uint8Array(value)) };
  if (ArrayBuffer.isView(value)) {
    return { bytes: Array.from(new Uint8Array(value.buffer, value.byteOffset, value.byteLength)) };
  }
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b < 256)) {
    return { bytes: value };
  }
  throw new TypeError(`D1_TYPE_ERROR: Type '${value === undefined ? 'undefined' : typeof value}' ` +
                      `not supported for value '${String(value)}' (parameter ${index + 1})`);
}

function d1Objects(result) {
  return result.rows.map((row) => {
    const object = {};
    result.columns.forEach((column, i) => { object[column] = row[i]; });
    return object;
  });
}

function d1Result(result) {
  return { success: true, results: d1Objects(result), meta: { ...result.meta } };
}

export class D1PreparedStatement {
  #name;
  #sql;
  #params;
  constructor(name, sql, params) {
    this.#name = name;
    this.#sql = sql;
    this.#params = params;
  }

  bind(...values) {
    return new D1PreparedStatement(this.#name, this.#sql, values.map(d1Param));
  }

  // For batch(): the statement as the wire carries it, checked to belong to `database`.
  wireFor(name) {
    if (name !== this.#name) throw new TypeError('D1 batch(): a statement of another database');
    return { sql: this.#sql, params: this.#params };
  }

  async #run() {
    const [out] = await call(this.#name, 'batch',
                             { statements: [{ sql: this.#sql, params: this.#params }] });
    return out.results[0];
  }

  async first(column) {
    const result = await this.#run();
    if (result.rows.length === 0) return null;
    const row = d1Objects(result)[0];
    if (column === undefined) return row;
    if (!Object.prototype.hasOwnProperty.call(row, column)) {
      throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
    }
    return row[column];
  }

  async all() { return d1Result(await this.#run()); }

  async run() { return d1Result(await this.#run()); }

  async raw(options = {}) {
    const result = await this.#run();
    return options.columnNames ? [result.columns, ...result.rows] : result.rows;
  }
}

export class D1Database {
  #name;
  constructor(name) { this.#name = name; }

  prepare(sql) {
    return new D1PreparedStatement(this.#name, String(sql), []);
  }

  async batch(statements) {
    if (!Array.isArray(statements)) throw new TypeError('D1 batch(): expects an array of statements');
    if (statements.length === 0) return [];
    const wire = statements.map((statement) => {
      if (!(statement instanceof D1PreparedStatement)) {
        throw new TypeError('D1 batch(): every item must come from prepare()');
      }
      return statement.wireFor(this.#name);
    });
    const [out] = await call(this.#name, 'batch', { statements: wire });
    return out.results.map(d1Result);
  }

  async exec(sql) {
    const [out] = await call(this.#name, 'exec', { sql: String(sql) });
    return { count: out.count, duration: out.duration };
  }

  async dump() {
    throw new Error('D1 dump() is not supported by isolated');
  }
}

// ---- R2 ----------------------------------------------------------------------------------

const kHttpFields = [
  ['contentType', 'content-type'], ['contentLanguage', 'content-language'],
  ['contentDisposition', 'content-disposition'], ['contentEncoding', 'content-encoding'],
  ['cacheControl', 'cache-control'], ['cacheExpiry', 'expires'],
];

function httpMetadataOf(input) {
  if (input == null) return {};
  const out = {};
  if (input instanceof Headers) {
    for (const [field, header] of kHttpFields) {
      const value = input.get(header);
      if (value !== null) out[field] = value;
    }
    return out;
  }
  for (const [field] of kHttpFields) {
    if (input[field] === undefined) continue;
    out[field] = input[field] instanceof Date ? input[field].toUTCString() : String(input[field]);
  }
  return out;
}

export class R2Object {
  constructor(info) {
    this.key = info.key;
    this.version = info.etag;
    this.size = info.size;
    this.etag = info.etag;
    this.httpEtag = `"${info.etag}"`;
    this.uploaded = new Date(info.uploaded);
    const http = { ...info.httpMetadata };
    if (http.cacheExpiry !== undefined) http.cacheExpiry = new Date(http.cacheExpiry);
    this.httpMetadata = http;
    this.customMetadata = { ...info.customMetadata };
    this.checksums = { md5: info.etag };
    this.storageClass = 'Standard';
  }

  writeHttpMetadata(headers) {
    for (const [field, header] of kHttpFields) {
      const value = this.httpMetadata[field];
      if (value !== undefined) {
        headers.set(header, value instanceof Date ? value.toUTCString() : value);
      }
    }
  }
}

export class R2ObjectBody extends R2Object {
  #bytes;
  #used = false;
  #stream = null;
  constructor(info, bytes) {
    super(info);
    this.#bytes = bytes;
  }

  #take() {
    if (this.#used) throw new TypeError('R2 object body: the body has already been used');
    this.#used = true;
    return this.#bytes;
  }

  get body() {
    if (this.#stream === null) {
      this.#stream = bytesStream(this.#bytes);
      this.#used = true;
    }
    return this.#stream;
  }

  get bodyUsed() { return this.#used; }

  async arrayBuffer() { return exactBuffer(this.#take()); }

  async text() { return decodeText(this.#take()); }

  async json() { return JSON.parse(decodeText(this.#take())); }

  async blob() {
    return new Blob([this.#take()], { type: this.httpMetadata.contentType ?? '' });
  }
}

export class R2Bucket {
  #name;
  constructor(name) { this.#name = name; }

  async head(key) {
    const [info] = await call(this.#name, 'head', { key: String(key) });
    return info === null ? null : new R2Object(info);
  }

  async get(key, options = {}) {
    if (options.range !== undefined || options.onlyIf !== undefined) {
      throw new TypeError('R2 get(): range and onlyIf are not supported by isolated');
    }
    const [info, bytes] = await call(this.#name, 'get', { key: String(key) });
    return info === null ? null : new R2ObjectBody(info, bytes);
  }

  async put(key, value, options = {}) {
    const bytes = value === null ? '' : await valueBytes(value, 'R2 put()');
    const custom = {};
    for (const [name, text] of Object.entries(options.customMetadata ?? {})) {
      custom[name] = String(text);
    }
    const [info] = await call(this.#name, 'put', {
      key: String(key), httpMetadata: httpMetadataOf(options.httpMetadata),
      customMetadata: custom,
    }, bytes);
    return new R2Object(info);
  }

  async delete(keys) {
    const list = Array.isArray(keys) ? keys.map(String) : [String(keys)];
    await call(this.#name, 'delete', { keys: list });
  }

  async list(options = {}) {
    const args = {};
    for (const name of ['prefix', 'cursor', 'delimiter']) {
      if (options[name] != null && options[name] !== '') args[name] = String(options[name]);
    }
    if (options.limit != null) args.limit = Number(options.limit);
    const [out] = await call(this.#name, 'list', args);
    const result = { objects: out.objects.map((info) => new R2Object(info)),
                     truncated: out.truncated, delimitedPrefixes: out.delimitedPrefixes };
    if (out.truncated) result.cursor = out.cursor;
    return result;
  }
}

// The binding object for a [name, kind] pair from Configure.
// A service binding (Cloudflare's Fetcher): fetch() reaches the app the binding names, through
// the supervisor, as a request to that app.
class Fetcher {
  #name;
  constructor(name) { this.#name = name; }
  fetch(input, init = undefined) {
    if (arguments.length < 1) {
      return Promise.reject(new TypeError(`${this.#name}.fetch: 1 argument required`));
    }
    return fetchThrough(this.#name, input, init);
  }
}

export function makeStorageBinding(name, kind) {
  switch (kind) {
    case 'service': return new Fetcher(name);
    case 'kv': return new KVNamespace(name);
    case 'database': return new D1Database(name);
    case 'storage': return new R2Bucket(name);
    default: throw new TypeError(`unknown storage binding kind "${kind}"`);
  }
}
