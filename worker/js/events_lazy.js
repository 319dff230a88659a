// Event, EventTarget, CustomEvent (events.js) and AbortController, AbortSignal (abort.js), loaded
// on first use: their globals are lazy (main.js), and the rest of the runtime asks here, so a
// context made from the startup snapshot that never uses events or abort signals never
// deserialises their classes (url.js explains the mechanism).
let events = null;
let abort = null;
let clock = () => 0;

// The clock events.js stamps events with (performance.now), kept until events.js loads.
export function setLazyEventClock(now) {
  clock = now;
  if (events !== null) events.setEventClock(now);
}

// events.js's module: { Event, EventTarget, CustomEvent, ... }.
export function eventsModule() {
  if (events === null) {
    events = require('./events.js');
    events.setEventClock(clock);
  }
  return events;
}

// abort.js's module: { AbortController, AbortSignal, addAbortAlgorithm }.
export function abortModule() {
  if (abort === null) {
    eventsModule();  // first, for the clock
    abort = require('./abort.js');
  }
  return abort;
}

// Whether `value` is an AbortSignal, without loading abort.js: none exists before it is.
export function isAbortSignal(value) {
  return abort !== null && value instanceof abort.AbortSignal;
}
