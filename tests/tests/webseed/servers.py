#!/usr/bin/env python3
"""Web servers that answer range requests the ways real ones do, for the web seed matrix in
tests/tests/webseed.rs.

  servers.py MODE ROOT

Serves ROOT on 127.0.0.1 (any port) and prints "port N" once listening; runs until killed.
MODE:
  plain     Python's own http.server, untouched: HTTP/1.0, ignores Range, 200 and the whole file
  close     ignores Range too, and sends no Content-Length: the body ends when the connection
            closes (HTTP/1.0 close-delimited)
  wrong206  206, but for a range aligned down to 64 KiB and at most 256 KiB long (starts earlier
            and ends sooner than asked, as some caches answer)
  redirect  302 to the same path on 127.0.0.2 (another host), which serves ranges honestly
  chunked   206 for exactly the range asked, the body in Transfer-Encoding: chunked pieces of
            odd sizes, no Content-Length
  gzip      200 with the whole file gzip-compressed (Content-Encoding: gzip) though the client
            asked for identity
  deflate   the same with Content-Encoding: deflate (zlib, RFC 1950)
Every request line is printed as "GET PATH RANGE" (stdout, flushed).
"""
import gzip
import http.server
import os
import re
import sys
import threading
import zlib
import urllib.parse

MODE, ROOT = sys.argv[1], sys.argv[2]


def log_request(handler):
    print("GET", handler.path, handler.headers.get("Range", "-"), flush=True)


def file_bytes(handler):
    rel = urllib.parse.unquote(urllib.parse.urlsplit(handler.path).path).lstrip("/")
    path = os.path.realpath(os.path.join(ROOT, rel))
    if not path.startswith(os.path.realpath(ROOT) + os.sep) or not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        return f.read()


def asked_range(handler, size):
    m = re.fullmatch(r"bytes=(\d+)-(\d*)", handler.headers.get("Range", ""))
    if not m:
        return None
    a = int(m.group(1))
    b = int(m.group(2)) if m.group(2) else size - 1
    return a, min(b, size - 1)


class Plain(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=ROOT, **kwargs)

    def do_GET(self):
        log_request(self)
        super().do_GET()

    def log_message(self, *args):
        pass


class Scripted(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        log_request(self)
        data = file_bytes(self)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        getattr(self, "serve_" + MODE)(data)

    def serve_range(self, data, a, b, extra=()):
        body = data[a:b + 1]
        self.send_response(206)
        self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def serve_honest(self, data):
        r = asked_range(self, len(data))
        if r is None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.serve_range(data, *r)

    def serve_close(self, data):
        self.protocol_version = "HTTP/1.0"
        self.close_connection = True
        self.send_response(200)
        self.end_headers()
        for i in range(0, len(data), 50000):
            self.wfile.write(data[i:i + 50000])

    def serve_wrong206(self, data):
        r = asked_range(self, len(data))
        if r is None:
            return self.serve_honest(data)
        a = r[0] // 65536 * 65536
        b = min(r[1], a + 262144 - 1)
        self.serve_range(data, a, b)

    def serve_redirect(self, data):
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.2:%d%s" % (OTHER_PORT, self.path))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def serve_chunked(self, data):
        r = asked_range(self, len(data))
        a, b = r if r else (0, len(data) - 1)
        body = data[a:b + 1]
        self.send_response(206 if r else 200)
        if r:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, len(data)))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sizes = [1, 7000, 16384, 33333, 4095]
        i = n = 0
        while i < len(body):
            chunk = body[i:i + sizes[n % len(sizes)]]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            i += len(chunk)
            n += 1
        self.wfile.write(b"0\r\n\r\n")

    def serve_gzip(self, data):
        body = gzip.compress(data, compresslevel=1)
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


    def serve_deflate(self, data):
        body = zlib.compress(data, 1)
        self.send_response(200)
        self.send_header("Content-Encoding", "deflate")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Honest(Scripted):
    def do_GET(self):
        log_request(self)
        data = file_bytes(self)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.serve_honest(data)


OTHER_PORT = 0
if MODE == "redirect":
    other = http.server.ThreadingHTTPServer(("127.0.0.2", 0), Honest)
    OTHER_PORT = other.server_address[1]
    threading.Thread(target=other.serve_forever, daemon=True).start()
handler = Plain if MODE == "plain" else Scripted
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
server.daemon_threads = True
print("port", server.server_address[1], flush=True)
server.serve_forever()
