// console (https://console.spec.whatwg.org/): every level becomes one line sent to the host,
// which tags it with the request it belongs to.
import { native } from './native.js';

export function formatArg(value) {
  if (typeof value === 'string') return value;
  if (value instanceof Error) return value.stack || String(value);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

// console's format specifiers (https://console.spec.whatwg.org/#formatter), applied when the
// first argument is a string: %s %d %i %f %o %O %j (JSON, as in Node) and %%.
function formatLine(args) {
  if (typeof args[0] !== 'string' || args.length === 1) return args.map(formatArg).join(' ');
  let next = 1;
  const head = args[0].replace(/%[sdifoOj%]/g, (spec) => {
    if (spec === '%%') return '%';
    if (next >= args.length) return spec;
    const arg = args[next++];
    switch (spec) {
      case '%s':
        return typeof arg === 'string' ? arg : typeof arg === 'bigint' ? `${arg}n` :
               typeof arg === 'symbol' ? String(arg) : formatArg(arg);
      case '%d':
      case '%i': {
        if (typeof arg === 'bigint') return `${arg}n`;
        // The spec gives %d and %i the same meaning: %parseInt%(arg, 10).
        if (typeof arg === 'symbol') return 'NaN';
        return String(parseInt(arg, 10));
      }
      case '%f':
        return typeof arg === 'symbol' ? 'NaN' : String(parseFloat(arg));
      default:  // %o %O %j
        return formatArg(arg);
    }
  });
  return [head, ...args.slice(next).map(formatArg)].join(' ');
}

export function makeConsole() {
  const out = (level) => (...args) => native.log(level, formatLine(args));
  return {
    debug: out(0), log: out(1), info: out(1), warn: out(2), error: out(3), trace: out(0),
  };
}

// The log line of an uncaught exception, before error_events.js takes over (it dispatches the
// global `error` event first).
export function reportError(error) {
  if (arguments.length < 1) throw new TypeError('reportError: 1 argument required');
  native.log(3, 'Uncaught ' + formatArg(error));
}
