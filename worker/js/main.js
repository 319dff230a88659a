// The entry module of the worker runtime: the Workers API globals and the entry points the
// native host keeps. esbuild bundles this module and its imports (ours and npm's) into one
// function expression, `(function (native) { ... })`, embedded in the binary
// (cmake/RuntimeBundle.cmake). It is evaluated once into the startup snapshot at build time
// (worker/mksnapshot.cc), or, without the snapshot, once per context by ScriptContext.
// Nothing here is reachable from user code except the globals installed on purpose.
import { AbortController, AbortSignal } from './abort.js';
import { Blob, File } from './blob.js';
import { makeConsole } from './console.js';
import { initContext } from './context_init.js';
import { DOMException, throwingDOMExceptions } from './dom_exception.js';
import { TextDecoder, TextEncoder } from './encoding.js';
import { setEnv } from './env.js';
import { errorEventClasses, installErrorEvents, notifyRejection,
         reportError } from './error_events.js';
import { CustomEvent, Event, EventTarget, setEventClock } from './events.js';
import { fetch } from './fetch.js';
import { FormData } from './form_data.js';
import { addEventListener, dispatchEvent, makeGlobalEventTarget,
         removeEventListener } from './global_events.js';
import { abortRequest, dispatch, dispatchScheduled, FetchEvent, hasFetchListener,
         setModuleHandler, warmUp } from './handlers.js';
import { Headers } from './headers.js';
import { lazyModule } from './lazy_module.js';
import { native, setNative } from './native.js';
import { Crypto, makeCrypto, makeNavigator, makePerformance,
         Performance } from './platform_objects.js';
import { Request, Response } from './request_response.js';
import { ScheduledEvent } from './scheduled.js';
import { structuredClone } from './structured_clone.js';
import { streamClasses } from './streams.js';
import { subtleModule } from './subtle_lazy.js';
import { clearTimer, fireTimer, queueMicrotask, setInterval, setTimeout } from './timers.js';
import { urlClasses, urlPatternClass } from './url.js';
import { installWasmStreaming } from './wasm_streaming.js';

function define(name, value) {
  Object.defineProperty(globalThis, name, {
    value, writable: true, configurable: true, enumerable: false,
  });
}

// A global whose value is made on first access (url.js, streams.js and subtle_lazy.js explain
// why): load(name) makes it. Until then it is an accessor pair on globalThis; reading it (or
// assigning to it) replaces it with the ordinary data property define() makes. The one
// observable difference from an eager global is Object.getOwnPropertyDescriptor before the
// first access, which shows get/set, not a value.
function defineLazy(name, load) {
  Object.defineProperty(globalThis, name, {
    get() {
      const value = load(name);
      define(name, value);
      return value;
    },
    set(value) {
      define(name, value);
    },
    configurable: true, enumerable: false,
  });
}

// Modules that nothing but their globals uses, evaluated when one of those is first read.
const messageChannel = lazyModule(() => require('./message_channel.js'));
const textStreams = lazyModule(() => require('./text_streams.js'));
const compression = lazyModule(() => require('./compression.js'));

const kStreamClasses = [
  'ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader',
  'ReadableStreamBYOBRequest', 'ReadableStreamDefaultController', 'ReadableByteStreamController',
  'WritableStream', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController',
  'TransformStream', 'TransformStreamDefaultController', 'ByteLengthQueuingStrategy',
  'CountQueuingStrategy',
];

export function install(bindings) {
  setNative(bindings);
  define('Headers', Headers);
  define('Request', Request);
  define('Response', Response);
  define('FetchEvent', FetchEvent);
  define('ScheduledEvent', ScheduledEvent);
  define('fetch', fetch);
  makeGlobalEventTarget();
  define('addEventListener', addEventListener);
  define('removeEventListener', removeEventListener);
  define('dispatchEvent', dispatchEvent);
  define('setTimeout', setTimeout);
  define('setInterval', setInterval);
  define('clearTimeout', clearTimer);
  define('clearInterval', clearTimer);
  define('queueMicrotask', queueMicrotask);
  define('console', makeConsole());
  define('self', globalThis);
  define('TextEncoder', TextEncoder);
  define('TextDecoder', TextDecoder);
  define('atob', throwingDOMExceptions(native.atob));
  define('btoa', throwingDOMExceptions(native.btoa));
  define('Crypto', Crypto);
  define('crypto', makeCrypto());
  const subtleClass = (name) => subtleModule()[name];
  defineLazy('CryptoKey', subtleClass);
  defineLazy('SubtleCrypto', subtleClass);
  define('structuredClone', structuredClone);
  const performance = makePerformance();
  define('Performance', Performance);
  define('performance', performance);
  setEventClock(() => performance.now());
  define('navigator', makeNavigator());
  define('reportError', reportError);
  const urlClass = (name) => urlClasses()[name];
  defineLazy('URL', urlClass);
  defineLazy('URLSearchParams', urlClass);
  defineLazy('URLPattern', urlPatternClass);
  define('DOMException', DOMException);
  define('Event', Event);
  define('EventTarget', EventTarget);
  define('CustomEvent', CustomEvent);
  const errorEventClass = (name) => errorEventClasses()[name];
  defineLazy('ErrorEvent', errorEventClass);
  defineLazy('PromiseRejectionEvent', errorEventClass);
  installErrorEvents();
  define('AbortController', AbortController);
  define('AbortSignal', AbortSignal);
  const messageClass = (name) => messageChannel()[name];
  for (const name of ['MessageChannel', 'MessagePort', 'MessageEvent']) {
    defineLazy(name, messageClass);
  }
  const streamClass = (name) => streamClasses()[name];
  for (const name of kStreamClasses) defineLazy(name, streamClass);
  const textStreamClass = (name) => textStreams()[name];
  defineLazy('TextEncoderStream', textStreamClass);
  defineLazy('TextDecoderStream', textStreamClass);
  const compressionClass = (name) => compression()[name];
  defineLazy('CompressionStream', compressionClass);
  defineLazy('DecompressionStream', compressionClass);
  define('Blob', Blob);
  define('File', File);
  define('FormData', FormData);
  installWasmStreaming();
  return { dispatch, dispatchScheduled, fireTimer, setModuleHandler, hasFetchListener, setEnv,
           initContext, abortRequest, notifyRejection, warmUp };
}
