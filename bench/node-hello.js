'use strict';
// Baseline server for bench/hello.sh: the plainest useful Node.js HTTP server,
// answering every request with 200 "Hello World\n" (text/plain).
//
// Usage:
//   node bench/node-hello.js PORT [HOST]                 single process
//   NODE_CLUSTER=N node bench/node-hello.js PORT [HOST]  N worker processes (cluster)
//
// HOST defaults to 127.0.0.1. Once listening (all workers, in cluster mode) it
// writes a logfmt line containing msg="ready" to stderr, like `isolated` does.

const http = require('http');
const cluster = require('cluster');

const port = Number(process.argv[2] || process.env.PORT);
const host = process.argv[3] || '127.0.0.1';
const workers = Number.parseInt(process.env.NODE_CLUSTER || '0', 10) || 0;
const isPrimary = cluster.isPrimary ?? cluster.isMaster;

function log(level, msg, extra = '') {
  process.stderr.write(`level=${level} msg="${msg}" pid=${process.pid}${extra ? ' ' + extra : ''}\n`);
}

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  process.stderr.write('usage: [NODE_CLUSTER=N] node bench/node-hello.js PORT [HOST]\n');
  process.exit(2);
}

if (workers > 0 && isPrimary) {
  runPrimary();
} else {
  runServer();
}

function runServer() {
  const body = Buffer.from('Hello World\n');
  const headers = { 'content-type': 'text/plain', 'content-length': body.length };

  const server = http.createServer((req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  });
  server.on('error', (err) => {
    log('error', 'listen failed', `error="${err.message}"`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    // In cluster mode the primary reports readiness once every worker listens.
    if (!cluster.isWorker) log('info', 'ready', `listen=${host}:${port} workers=0`);
  });
}

function runPrimary() {
  let listening = 0;
  let stopping = false;
  let exitCode = 0;

  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) log('info', 'ready', `listen=${host}:${port} workers=${workers}`);
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
