#!/usr/bin/env python3
"""The origin server that fetch() integration tests (tests/fetch_test.cc) fetch from.

Listens on all interfaces (so 127.0.0.2 reaches it too) on a free port, prints "PORT <n>" on
stdout once ready, and serves until killed. With --cert and --key it speaks HTTPS.

Routes:
  /hello                200 "hello from origin", header x-origin: yes
  /echo                 any method: JSON {method, headers, body} of the request (a chunked
                        body too)
  /json                 200 application/json {"answer": 42, "list": [1, 2, 3]}
  /status/N             status N, body "status N"
  /redirect?to=URL&code=N   N (default 302) with Location: URL
  /chain/N              302 to /chain/N-1 ... /chain/0 answers "end of chain"
  /bytes/N              N bytes (b"x" * N) with Content-Length, written in 64 KiB pieces
  /stall                headers at once, then one body byte, then nothing until killed
  /stall-head           nothing at all until killed (the request is read)
  /upload-check         reads the body (Content-Length or chunked) as it comes and answers JSON
                        {length, ok (byte k is k % 251 throughout), chunked}
  /hold-upload          reads nothing of the body until /release has been requested, then
                        answers as /upload-check
  /release              lets every waiting /hold-upload go on
"""
import argparse
import json
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


# Byte k of an /upload-check body is k % 251: compared a block at a time.
PATTERN = bytes(i % 251 for i in range(251)) * 1024
RELEASE = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body=b"", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self):
        return b"".join(self._pieces())

    def _pieces(self):
        """The request body as it arrives, Content-Length or chunked."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left > 0:
                    piece = self.rfile.read(min(left, 1 << 16))
                    if not piece:
                        return
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                piece = self.rfile.read(min(left, 1 << 16))
                if not piece:
                    return
                left -= len(piece)
                yield piece

    def _check_upload(self):
        length = 0
        ok = True
        for piece in self._pieces():
            start = length % 251
            if ok and piece != PATTERN[start:start + len(piece)]:
                ok = False
            length += len(piece)
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        return self._send(200, json.dumps({"length": length, "ok": ok,
                                           "chunked": chunked}).encode(),
                          {"content-type": "application/json"})

    def _route(self):
        path, _, query = self.path.partition("?")
        if path == "/upload-check":
            return self._check_upload()
        if path == "/hold-upload":
            RELEASE.wait()
            return self._check_upload()
        if path == "/release":
            RELEASE.set()
            return self._send(200, b"released")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        body = self._body()
        if path == "/hello":
            return self._send(200, b"hello from origin", {"x-origin": "yes",
                                                           "content-type": "text/plain"})
        if path == "/echo":
            payload = {"method": self.command,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body.decode("utf-8", "replace")}
            return self._send(200, json.dumps(payload).encode(),
                              {"content-type": "application/json"})
        if path == "/json":
            return self._send(200, b'{"answer": 42, "list": [1, 2, 3]}',
                              {"content-type": "application/json"})
        if path.startswith("/status/"):
            code = int(path.split("/")[2])
            return self._send(code, ("status %d" % code).encode())
        if path == "/redirect":
            from urllib.parse import unquote
            return self._send(int(params.get("code", "302")), b"moved",
                              {"Location": unquote(params["to"])})
        if path.startswith("/chain/"):
            n = int(path.split("/")[2])
            if n == 0:
                return self._send(200, b"end of chain")
            return self._send(302, b"", {"Location": "/chain/%d" % (n - 1)})
        if path.startswith("/bytes/"):
            n = int(path.split("/")[2])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            piece = b"x" * 65536
            while n > 0:
                self.wfile.write(piece[:min(n, len(piece))])
                n -= min(n, len(piece))
            return
        if path == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(3600)
        if path == "/stall-head":
            time.sleep(3600)
        return self._send(404, b"no such route")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _route


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # clients that go away mid-body (aborts, cancellations) are expected


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    server = Server(("", 0), Handler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
