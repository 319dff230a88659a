'use strict';
// bench/suite.sh baseline: the three suite handlers (hello.js, echo.js, timer.js)
// ported to plain Node.js `http`, served by a `cluster` of NODE_CLUSTER workers.
// Each answer matches its Workers twin: same status, body and content-type.
//
// Usage:
//   NODE_CLUSTER=N node bench/handlers/node-http.js HANDLER PORT [HOST]
// HANDLER is hello, echo or timer; NODE_CLUSTER=0 (or unset) serves from one
// process. HOST defaults to 127.0.0.1. Once every worker listens it writes a
// logfmt line containing msg="ready" to stderr, and for each worker a line
// msg="worker ready" with its pid, like `isolated` does.

const http = require('http');
const cluster = require('cluster');

const handlerName = process.argv[2];
const port = Number(process.argv[3] || process.env.PORT);
const host = process.argv[4] || '127.0.0.1';
const workers = Number.parseInt(process.env.NODE_CLUSTER || '0', 10) || 0;
const isPrimary = cluster.isPrimary ?? cluster.isMaster;

function log(level, msg, extra = '') {
  process.stderr.write(`level=${level} msg="${msg}" pid=${process.pid}${extra ? ' ' + extra : ''}\n`);
}

const HELLO = Buffer.from('Hello World\n');
const TEXT_HEADERS = { 'content-type': 'text/plain', 'content-length': HELLO.length };

function hello(req, res) {
  res.writeHead(200, TEXT_HEADERS);
  res.end(HELLO);
}

function echo(req, res) {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('body is not JSON\n');
      return;
    }
    const out = Buffer.from(JSON.stringify(body));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
    res.end(out);
  });
}

function timer(req, res) {
  const match = /[?&]ms=(\d+)/.exec(req.url);
  const ms = match ? Number(match[1]) : 5;
  setTimeout(() => hello(req, res), ms);
}

const HANDLERS = { hello, echo, timer };
const handler = HANDLERS[handlerName];

if (!handler || !Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: [NODE_CLUSTER=N] node bench/handlers/node-http.js hello|echo|timer PORT [HOST]\n');
  process.exit(2);
}

if (workers > 0 && isPrimary) {
  runPrimary();
} else {
  runServer();
}

function runServer() {
  const server = http.createServer(handler);
  server.on('error', (err) => {
    log('error', 'listen failed', `error="${err.message}"`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    // In cluster mode the primary reports readiness once every worker listens.
    if (!cluster.isWorker) log('info', 'ready', `listen=${host}:${port} workers=0 handler=${handlerName}`);
  });
}

function runPrimary() {
  let listening = 0;
  let stopping = false;
  let exitCode = 0;

  cluster.on('listening', (worker) => {
    listening += 1;
    log('info', 'worker ready', `worker_pid=${worker.process.pid}`);
    if (listening === workers) {
      log('info', 'ready', `listen=${host}:${port} workers=${workers} handler=${handlerName}`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit(exitCode);
      return;
    }
    // A worker dying during a benchmark invalidates it: fail loudly.
    log('error', 'worker exited', `worker_pid=${worker.process.pid} code=${code} signal=${signal}`);
    stop(1);
  });

  function stop(code) {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit(exitCode);
    setTimeout(() => process.exit(exitCode), 2000).unref();
  }
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));

  for (let i = 0; i < workers; i++) cluster.fork();
}
