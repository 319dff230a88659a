// Assertions for the JavaScript test files run by `isolated test`. Each throws an Error whose
// message says what was expected and what was found.

function show(value) {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function assert(condition, message = 'assertion failed') {
  if (!condition) throw new Error(message);
}

export function assertEquals(actual, expected, message = '') {
  if (!Object.is(actual, expected)) {
    throw new Error(`${message ? message + ': ' : ''}expected ${show(expected)}, got ${show(actual)}`);
  }
}

// Element-wise equality for arrays and typed arrays.
export function assertArrayEquals(actual, expected, message = '') {
  const a = Array.from(actual);
  const e = Array.from(expected);
  if (a.length !== e.length || a.some((v, i) => !Object.is(v, e[i]))) {
    throw new Error(`${message ? message + ': ' : ''}expected [${e}], got [${a}]`);
  }
}

// Calls `fn` and checks that it throws an instance of `type` (a constructor) or, when `type`
// is a string, an error with that `name`.
export function assertThrows(fn, type, message = '') {
  let threw = false;
  try {
    fn();
  } catch (error) {
    threw = true;
    const ok = typeof type === 'string' ? error && error.name === type : error instanceof type;
    if (!ok) {
      const want = typeof type === 'string' ? type : type.name;
      throw new Error(`${message ? message + ': ' : ''}expected ${want}, got ${error && error.name}: ` +
                      `${error && error.message}`);
    }
  }
  if (!threw) throw new Error(`${message ? message + ': ' : ''}expected an exception, none thrown`);
}

export async function assertRejects(fn, type) {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof type)) throw new Error(`expected ${type.name}, got ${error}`);
    return;
  }
  throw new Error('expected a rejection');
}
