// The llhttp side of the differential test (http_differential_test.cc): reads a corpus of raw
// HTTP requests (one hex line each), sends each on its own loopback connection to a Node
// http server, and prints one JSON line per request, in order:
//   {"i":N,"r":"A","method":..,"target":..,"headers":[[name,value],..],"body":hex}    accepted
//   {"i":N,"r":"R","code":"HPE_..."}                                                 rejected
//   {"i":N,"r":"I"}                                    incomplete: neither within the wait
// Only the first request of each connection counts.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';

const corpus = readFileSync(process.argv[2], 'utf8').split('\n').filter(Boolean)
    .map((line) => Buffer.from(line, 'hex'));
const waitMs = Number(process.argv[3] || 1000);
const results = new Array(corpus.length);
const byPort = new Map();  // client local port -> index
const requests = new Map();  // index -> the first request (IncomingMessage)

const server = http.createServer({ requireHostHeader: true });
server.on('request', (req, res) => {
  const i = byPort.get(req.socket.remotePort);
  if (i === undefined || results[i] || requests.has(i)) return;
  requests.set(i, req);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (results[i]) return;
    const headers = [];
    for (let k = 0; k < req.rawHeaders.length; k += 2) {
      headers.push([req.rawHeaders[k], req.rawHeaders[k + 1]]);
    }
    results[i] = { i, r: 'A', method: req.method, target: req.url, headers,
                   body: Buffer.concat(chunks).toString('hex') };
    res.end();
  });
  req.on('error', () => { if (!results[i]) results[i] = { i, r: 'R', code: 'aborted' }; });
});
server.on('clientError', (err, socket) => {
  const i = byPort.get(socket.remotePort);
  // Bytes after a complete first request are not its business: the parser may report them
  // before the request's 'end' is emitted, so let that come first.
  if (i !== undefined && requests.get(i)?.complete) {
    setTimeout(() => socket.destroy(), 20);
    return;
  }
  if (i !== undefined && !results[i]) results[i] = { i, r: 'R', code: err.code || String(err) };
  socket.destroy();
});

function run(i, wait) {
  return new Promise((resolve) => {
    const socket = net.connect(server.address().port, '127.0.0.1');
    socket.on('connect', () => {
      byPort.set(socket.localPort, i);
      socket.write(corpus[i]);
    });
    // Node answers some refusals itself (a missing Host: 400) without a clientError event.
    socket.on('data', (d) => {
      if (!results[i] && !requests.has(i) && /^HTTP\/1\.1 [45]/.test(d.toString('latin1'))) {
        results[i] = { i, r: 'R', code: 'answered ' + d.toString('latin1', 9, 12) };
      }
    });
    socket.on('error', () => {});
    const started = Date.now();
    const timer = setInterval(() => {
      if (results[i] || Date.now() - started > wait) {
        clearInterval(timer);
        if (!results[i]) results[i] = { i, r: 'I' };
        // What the server sees of this connection from now on (the reset) is not a result.
        byPort.delete(socket.localPort);
        socket.destroy();
        resolve();
      }
    }, 5);
  });
}

server.listen(0, '127.0.0.1', async () => {
  // All requests in batches with a short wait; then those still without a result, all at once
  // with a long one, so that a loaded machine does not turn a slow answer into "incomplete".
  const batch = 64;
  for (let start = 0; start < corpus.length; start += batch) {
    const running = [];
    for (let i = start; i < Math.min(corpus.length, start + batch); i++) running.push(run(i, waitMs));
    await Promise.all(running);
  }
  const retry = [];
  for (let i = 0; i < corpus.length; i++) {
    if (results[i].r === 'I' && !requests.has(i)) {
      results[i] = undefined;
      retry.push(run(i, waitMs * 5));
    }
  }
  await Promise.all(retry);
  for (const r of results) process.stdout.write(JSON.stringify(r) + '\n');
  server.close();
  process.exit(0);
});
