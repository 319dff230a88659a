// For tests/snapshot_test.cc: a top level that uses web streams (which the runtime loads on
// first use), so the script snapshot holds the stream modules' state. Reloading it runs two
// apps' isolates in one worker: one from the built-ins snapshot, one from a script snapshot.
const upper = new TransformStream({
  transform(chunk, controller) { controller.enqueue(chunk.toUpperCase()); },
});
const piped = new Response('top').body.pipeThrough(new TextDecoderStream()).pipeThrough(upper);
const ready = new Response(piped.pipeThrough(new TextEncoderStream())).text();

export default {
  async fetch() {
    return new Response(`top level said ${await ready}`);
  },
};
