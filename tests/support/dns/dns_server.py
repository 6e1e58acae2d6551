#!/usr/bin/env python3
"""Tiny authoritative DNS server for Gatehouse tests (TXT records). Python 3.11, stdlib only.

    python3 dns_server.py [--port 0] [--control-port 0]

Serves DNS on 127.0.0.1 over UDP and TCP (same port) and an HTTP control API, then prints ONE line:

    {"addr":"127.0.0.1:PORT","control":"http://127.0.0.1:PORT2"}

Control API (JSON):
    PUT    /records/<name>   {"txt": ["gatehouse-verification=abc"], "ttl": 0}
                             optional instead of/with txt: {"rcode": "SERVFAIL"|"REFUSED"} or {"drop": true}
    GET    /records/<name>   the entry, or 404
    DELETE /records/<name>   {"deleted": true|false}
    GET    /records          the whole table;   DELETE /records   clears it
    GET    /queries          queries received so far [{"name","type","transport"}];   DELETE /queries clears
Answers: TXT (or ANY) for a known name -> its records (AA set); other types for a known name, or a
name that only has names below it -> NOERROR/NODATA; anything else -> NXDOMAIN. Negative answers carry
an SOA with TTL 0 / minimum 0 so resolvers do not cache them. Stops on SIGTERM/SIGINT and when stdin
(a pipe or socket) reaches EOF.
"""
import argparse
import json
import os
import signal
import socket
import socketserver
import stat
import struct
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TYPE_A, TYPE_SOA, TYPE_TXT, TYPE_OPT, TYPE_ANY = 1, 6, 16, 41, 255
CLASS_IN = 1
RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3, "NOTIMP": 4, "REFUSED": 5}
TYPE_NAMES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
              41: "OPT", 65: "HTTPS", 255: "ANY"}
OUR_UDP_PAYLOAD = 1232

records = {}  # normalized name -> {"txt": [str], "ttl": int, "rcode": str|None, "drop": bool}
queries = []  # [{"name", "type", "transport"}]
lock = threading.Lock()
stop = threading.Event()


def normalize(name: str) -> str:
    return name.strip().rstrip(".").lower()


class FormErr(Exception):
    pass


def parse_name(msg: bytes, off: int):
    labels = []
    while True:
        if off >= len(msg):
            raise FormErr("name runs past the end")
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0:
            raise FormErr("compression in question")
        if off + n > len(msg):
            raise FormErr("label runs past the end")
        labels.append(msg[off:off + n])
        off += n
    return labels, off


def encode_name(name: str) -> bytes:
    out = b""
    for label in (name.split(".") if name else []):
        raw = label.encode("idna") if not label.isascii() else label.encode()
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def txt_rdata(value: str) -> bytes:
    raw = value.encode("utf-8")
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    return b"".join(bytes([len(c)]) + c for c in chunks)


def rr(name_bytes: bytes, rtype: int, ttl: int, rdata: bytes, rclass=CLASS_IN) -> bytes:
    return name_bytes + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def soa_rr(zone: str) -> bytes:
    rdata = encode_name(f"ns.{zone}") + encode_name(f"hostmaster.{zone}") + struct.pack("!IIIII", 1, 60, 60, 600, 0)
    return rr(encode_name(zone), TYPE_SOA, 0, rdata)


def answer(msg: bytes, transport: str):
    """Returns the response bytes, or None to stay silent."""
    if len(msg) < 12:
        return None
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    if flags & 0x8000:  # a response, not a query
        return None
    opcode = (flags >> 11) & 0xF
    rd = flags & 0x0100

    def header(rcode, ancount=0, nscount=0, arcount=0, tc=False, with_question=True):
        f = 0x8000 | (opcode << 11) | 0x0400 | rd | (0x0200 if tc else 0) | rcode  # QR, AA
        return struct.pack("!HHHHHH", qid, f, 1 if with_question else 0, ancount, nscount, arcount)

    if opcode != 0:
        return header(RCODES["NOTIMP"], with_question=False)
    try:
        if qd != 1:
            raise FormErr("need exactly one question")
        labels, off = parse_name(msg, 12)
        if off + 4 > len(msg):
            raise FormErr("short question")
        qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
        question = msg[12:off + 4]
        off += 4
        edns_size = None
        if an == 0 and ns == 0:
            for _ in range(ar):
                _, off = parse_name(msg, off)
                if off + 10 > len(msg):
                    raise FormErr("short additional record")
                rtype, rclass, _ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
                off += 10 + rdlen
                if rtype == TYPE_OPT:
                    edns_size = max(512, rclass)
    except FormErr:
        return header(RCODES["FORMERR"], with_question=False)

    qname = normalize(b".".join(labels).decode("ascii", "replace"))
    with lock:
        queries.append({"name": qname, "type": TYPE_NAMES.get(qtype, str(qtype)), "transport": transport})
        entry = records.get(qname)
        entry = dict(entry) if entry else None
        has_children = any(n.endswith("." + qname) for n in records) if entry is None else False

    opt = rr(b"\x00", TYPE_OPT, 0, b"", rclass=OUR_UDP_PAYLOAD) if edns_size else b""
    arcount = 1 if edns_size else 0
    parts = qname.split(".")
    zone = ".".join(parts[-2:]) if len(parts) >= 2 else qname

    if entry and entry.get("drop"):
        return None
    if entry and entry.get("rcode"):
        return header(RCODES[entry["rcode"]], arcount=arcount) + question + opt
    if qclass not in (CLASS_IN, 255):
        return header(RCODES["REFUSED"], arcount=arcount) + question + opt
    if entry is None and not has_children:
        return header(RCODES["NXDOMAIN"], nscount=1, arcount=arcount) + question + soa_rr(zone) + opt
    answers = []
    if entry and qtype in (TYPE_TXT, TYPE_ANY):
        answers = [rr(b"\xc0\x0c", TYPE_TXT, entry["ttl"], txt_rdata(v)) for v in entry["txt"]]
    if not answers:
        return header(RCODES["NOERROR"], nscount=1, arcount=arcount) + question + soa_rr(zone) + opt
    resp = header(RCODES["NOERROR"], ancount=len(answers), arcount=arcount) + question + b"".join(answers) + opt
    limit = edns_size or 512
    if transport == "udp" and len(resp) > limit:
        return header(RCODES["NOERROR"], tc=True, arcount=arcount) + question + opt
    return resp


# ------------------------------------------------------------------ DNS transports
def serve_udp(sock: socket.socket):
    while not stop.is_set():
        try:
            data, peer = sock.recvfrom(65535)
        except OSError:
            return
        try:
            resp = answer(data, "udp")
        except Exception as e:  # noqa: BLE001 - a test server must not die on one bad packet
            print(f"dns_server: error answering {peer}: {e!r}", file=sys.stderr, flush=True)
            resp = None
        if resp:
            try:
                sock.sendto(resp, peer)
            except OSError:
                pass


class TcpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        try:
            while True:
                head = self._read(2)
                if not head:
                    return
                (n,) = struct.unpack("!H", head)
                data = self._read(n)
                if data is None:
                    return
                resp = answer(data, "tcp")
                if resp:
                    self.request.sendall(struct.pack("!H", len(resp)) + resp)
        except OSError:
            return

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.request.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf


class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


# ------------------------------------------------------------------ HTTP control
class Control(BaseHTTPRequestHandler):
    def log_message(self, *_):  # keep stderr quiet
        pass

    def _send(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _route(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/records" or path == "/records/":
            return "records", None
        if path.startswith("/records/"):
            return "record", normalize(urllib.parse.unquote(path[len("/records/"):]))
        if path == "/queries":
            return "queries", None
        return None, None

    def do_GET(self):
        kind, name = self._route()
        with lock:
            if kind == "records":
                return self._send(200, records)
            if kind == "record":
                return self._send(200, records[name]) if name in records else self._send(404, {"error": "no such name"})
            if kind == "queries":
                return self._send(200, queries)
        self._send(404, {"error": "not found"})

    def do_DELETE(self):
        kind, name = self._route()
        with lock:
            if kind == "records":
                records.clear()
                return self._send(200, {"deleted": True})
            if kind == "record":
                return self._send(200, {"deleted": records.pop(name, None) is not None})
            if kind == "queries":
                queries.clear()
                return self._send(200, {"deleted": True})
        self._send(404, {"error": "not found"})

    def do_PUT(self):
        kind, name = self._route()
        if kind != "record" or not name:
            return self._send(404, {"error": "PUT /records/<name>"})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        except ValueError:
            return self._send(400, {"error": "body is not JSON"})
        txt = body.get("txt", [])
        if isinstance(txt, str):
            txt = [txt]
        if not isinstance(txt, list) or not all(isinstance(t, str) for t in txt):
            return self._send(400, {"error": '"txt" must be a list of strings'})
        ttl = body.get("ttl", 0)
        rcode = body.get("rcode")
        if not isinstance(ttl, int) or not 0 <= ttl < 2**31:
            return self._send(400, {"error": '"ttl" must be a non-negative integer'})
        if rcode is not None and rcode not in RCODES:
            return self._send(400, {"error": f'"rcode" must be one of {sorted(RCODES)}'})
        if any(len(label) > 63 for label in name.split(".")) or len(name) > 253:
            return self._send(400, {"error": "invalid DNS name"})
        entry = {"txt": txt, "ttl": ttl, "rcode": rcode, "drop": bool(body.get("drop", False))}
        with lock:
            records[name] = entry
        self._send(200, {"name": name, **entry})


# ------------------------------------------------------------------ main
def bind_dns(port: int):
    """UDP and TCP on the same port; retries when port 0 gives a UDP port whose TCP twin is taken."""
    for _ in range(20):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", port))
        actual = udp.getsockname()[1]
        try:
            tcp = TcpServer(("127.0.0.1", actual), TcpHandler)
            return udp, tcp, actual
        except OSError:
            udp.close()
            if port:
                raise
    raise RuntimeError("could not bind UDP and TCP on one port")


def stdin_is_pipe() -> bool:
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="DNS port (UDP+TCP) on 127.0.0.1, 0 = free port")
    ap.add_argument("--control-port", type=int, default=0, help="HTTP control port on 127.0.0.1, 0 = free port")
    args = ap.parse_args()

    udp, tcp, port = bind_dns(args.port)
    http = ThreadingHTTPServer(("127.0.0.1", args.control_port), Control)
    http.daemon_threads = True
    threading.Thread(target=serve_udp, args=(udp,), daemon=True).start()
    threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    if stdin_is_pipe():
        def watch_stdin():
            try:
                while os.read(0, 4096):
                    pass
            except OSError:
                pass
            stop.set()
        threading.Thread(target=watch_stdin, daemon=True).start()

    print(json.dumps({"addr": f"127.0.0.1:{port}", "control": f"http://127.0.0.1:{http.server_address[1]}"},
                     separators=(",", ":")), flush=True)
    while not stop.wait(0.2):
        pass
    # Nothing to flush or delete: close the listeners and leave without waiting for worker threads.
    for closer in (udp.close, tcp.server_close, http.server_close):
        try:
            closer()
        except OSError:
            pass
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
