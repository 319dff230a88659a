// Fetch's Headers class (https://fetch.spec.whatwg.org/#headers-class). The header list is kept
// in insertion order with names lower-cased; iteration sorts and combines as the spec says.
export const kHeaderList = Symbol('headerList');

function normalizeName(name) {
  const n = String(name).toLowerCase();
  if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(n)) {
    throw new TypeError(`Invalid header name: "${name}"`);
  }
  return n;
}

const kEdgeWhitespace = /^[\t\n\r ]|[\t\n\r ]$/;

function normalizeValue(value) {
  let v = String(value);
  // Most values have nothing to strip: testing is cheaper than replacing.
  if (kEdgeWhitespace.test(v)) v = v.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
  if (/[\0\r\n]/.test(v)) throw new TypeError('Invalid header value');
  return v;
}

// Values the runtime sets itself that are valid as they are (the body types of fetch's "extract
// a body").
const kNormalisedValues = new Set(['text/plain;charset=UTF-8',
                                   'application/x-www-form-urlencoded;charset=UTF-8']);

// `if (!headers.has(name)) headers.set(name, value)` for the runtime's own defaults (such as a
// body's Content-Type), whose `name` is a lower-case header name already.
export function setDefaultHeader(headers, name, value) {
  const list = headers[kHeaderList];
  for (let i = 0; i < list.length; ++i) {
    if (list[i][0] === name) return;
  }
  list.push([name, kNormalisedValues.has(value) ? value : normalizeValue(value)]);
}

export class Headers {
  constructor(init) {
    this[kHeaderList] = [];  // [name, value] pairs, names lower-cased, in insertion order
    if (init == null) return;
    if (init instanceof Headers) {
      for (const [n, v] of init[kHeaderList]) this[kHeaderList].push([n, v]);
    } else if (typeof init[Symbol.iterator] === 'function') {
      for (const pair of init) {
        const p = Array.from(pair);
        if (p.length !== 2) throw new TypeError('Header pair must have exactly two items');
        this.append(p[0], p[1]);
      }
    } else if (typeof init === 'object') {
      for (const key of Object.keys(init)) this.append(key, init[key]);
    } else {
      throw new TypeError('Headers init must be an object or iterable');
    }
  }
  append(name, value) {
    this[kHeaderList].push([normalizeName(name), normalizeValue(value)]);
  }
  delete(name) {
    const n = normalizeName(name);
    this[kHeaderList] = this[kHeaderList].filter(([k]) => k !== n);
  }
  get(name) {
    const n = normalizeName(name);
    const values = [];
    for (const [k, v] of this[kHeaderList]) if (k === n) values.push(v);
    return values.length ? values.join(', ') : null;
  }
  has(name) {
    const n = normalizeName(name);
    return this[kHeaderList].some(([k]) => k === n);
  }
  set(name, value) {
    const n = normalizeName(name);
    const v = normalizeValue(value);
    const list = this[kHeaderList];
    const i = list.findIndex(([k]) => k === n);
    if (i < 0) {
      list.push([n, v]);
      return;
    }
    list[i] = [n, v];
    this[kHeaderList] = list.filter(([k], j) => j <= i || k !== n);
  }
  getSetCookie() {
    return this[kHeaderList].filter(([k]) => k === 'set-cookie').map(([, v]) => v);
  }
  forEach(callback, thisArg) {
    for (const [k, v] of this) callback.call(thisArg, v, k, this);
  }
  *entries() {
    const names = [...new Set(this[kHeaderList].map(([k]) => k))].sort();
    for (const n of names) {
      if (n === 'set-cookie') {
        for (const v of this.getSetCookie()) yield [n, v];
      } else {
        yield [n, this.get(n)];
      }
    }
  }
  *keys() {
    for (const [k] of this.entries()) yield k;
  }
  *values() {
    for (const [, v] of this.entries()) yield v;
  }
  [Symbol.iterator]() {
    return this.entries();
  }
  get [Symbol.toStringTag]() {
    return 'Headers';
  }
}
