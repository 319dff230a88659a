// Parked requests for the test handlers: hold() answers only when release() runs, which proves
// that requests interleave in one isolate (and lets tests keep a request in flight).
const parked = [];

export function hold() {
  return new Promise((resolve) => parked.push(() => resolve(new Response('held\n'))));
}

export function release() {
  const n = parked.length;
  parked.splice(0).forEach((answer) => answer());
  return new Response(`released ${n}\n`);
}
