#!/usr/bin/env python3
"""Self-test of dns_server.py: python3 selftest.py (exit 0 = all checks passed).

Queries with a stdlib DNS client (UDP and TCP) and, when installed, with dig (Debian bind9-dnsutils).
"""
import json
import os
import random
import shutil
import signal
import socket
import struct
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
passes = failures = 0


def check(cond, what):
    global passes, failures
    if cond:
        passes += 1
        print(f"  ok   {what}", flush=True)
    else:
        failures += 1
        print(f"  FAIL {what}", flush=True)


def start():
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "dns_server.py")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"dns_server.py printed nothing (exit {proc.wait()})")
    return proc, json.loads(line)


def control(base, method, path, body=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def query(port, name, qtype=16, tcp=False, edns=False, timeout=2.0):
    """Minimal stub resolver: returns (rcode, flags, [txt strings], nscount) or None on timeout."""
    qid = random.randrange(65536)
    msg = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 1 if edns else 0)
    msg += b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\x00"
    msg += struct.pack("!HH", qtype, 1)
    if edns:
        msg += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    try:
        if tcp:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
                s.sendall(struct.pack("!H", len(msg)) + msg)
                n = struct.unpack("!H", recv_exact(s, 2))[0]
                resp = recv_exact(s, n)
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(timeout)
                s.sendto(msg, ("127.0.0.1", port))
                resp, _ = s.recvfrom(65535)
    except socket.timeout:
        return None
    rid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", resp[:12])
    assert rid == qid, "id mismatch"
    off = skip_name(resp, 12) + 4
    txts = []
    for _ in range(an):
        off = skip_name(resp, off)
        rtype, _cls, _ttl, rdlen = struct.unpack("!HHIH", resp[off:off + 10])
        off += 10
        rdata = resp[off:off + rdlen]
        off += rdlen
        if rtype == 16:
            parts, i = [], 0
            while i < len(rdata):
                parts.append(rdata[i + 1:i + 1 + rdata[i]])
                i += 1 + rdata[i]
            txts.append(b"".join(parts).decode())
    return flags & 0xF, flags, txts, ns


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("short read")
        buf += chunk
    return buf


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0:
            return off + 2
        off += 1 + n


def main():
    proc, info = start()
    print(f"ready: {json.dumps(info)}")
    ctl = info["control"]
    port = int(info["addr"].rsplit(":", 1)[1])
    try:
        check(info["addr"].startswith("127.0.0.1:") and ctl.startswith("http://127.0.0.1:"), "ready line fields")
        name = "_gatehouse-challenge.example.com"
        st, body = control(ctl, "PUT", f"/records/{name}", {"txt": ["gatehouse-verification=abc", "v=spf1 -all"]})
        check(st == 200 and body["txt"] == ["gatehouse-verification=abc", "v=spf1 -all"], "PUT /records/<name>")
        for tcp in (False, True):
            r = query(port, name, tcp=tcp)
            check(r and r[0] == 0 and r[1] & 0x0400 and sorted(r[2]) == ["gatehouse-verification=abc", "v=spf1 -all"],
                  f"{'TCP' if tcp else 'UDP'} TXT query: NOERROR, AA, {r and r[2]}")
        r = query(port, name.upper() + ".", edns=True)
        check(r and r[0] == 0 and len(r[2]) == 2, "case-insensitive name, trailing dot, EDNS query")
        r = query(port, "nobody.example.com")
        check(r and r[0] == 3 and r[3] == 1, "unknown name: NXDOMAIN with an SOA in authority")
        r = query(port, "example.com")
        check(r and r[0] == 0 and r[2] == [], "parent of a known name (empty non-terminal): NOERROR, no answers")
        r = query(port, name, qtype=1)
        check(r and r[0] == 0 and r[2] == [], "known name, type A: NOERROR/NODATA")

        long_value = "gatehouse-verification=" + "x" * 600
        control(ctl, "PUT", "/records/long.example.org", {"txt": [long_value]})
        r = query(port, "long.example.org", tcp=True)
        check(r and r[2] == [long_value], "a 623-byte TXT value is split into 255-byte strings and reassembles")
        r = query(port, "long.example.org")
        check(r and r[1] & 0x0200 and r[2] == [], "UDP answer over 512 bytes without EDNS: TC bit set (client retries TCP)")
        r = query(port, "long.example.org", edns=True)
        check(r and not r[1] & 0x0200 and r[2] == [long_value], "same over UDP with EDNS (1232 bytes): full answer")

        st, body = control(ctl, "DELETE", f"/records/{name}")
        check(st == 200 and body == {"deleted": True}, "DELETE /records/<name>")
        r = query(port, name)
        check(r and r[0] == 3, "deleted name: NXDOMAIN")
        st, _ = control(ctl, "GET", f"/records/{name}")
        check(st == 404, "GET deleted record: 404")

        control(ctl, "PUT", "/records/broken.example.net", {"rcode": "SERVFAIL"})
        r = query(port, "broken.example.net")
        check(r and r[0] == 2, 'PUT {"rcode":"SERVFAIL"}: SERVFAIL')
        control(ctl, "PUT", "/records/silent.example.net", {"drop": True})
        check(query(port, "silent.example.net", timeout=0.5) is None, 'PUT {"drop":true}: no answer (timeout)')
        st, _ = control(ctl, "PUT", "/records/bad.example.net", {"txt": [1]})
        check(st == 400, "invalid body: 400")

        st, q = control(ctl, "GET", "/queries")
        check(st == 200 and {"name": name, "type": "TXT", "transport": "tcp"} in q, f"GET /queries logs queries ({len(q)})")

        dig = shutil.which("dig")
        if dig:
            control(ctl, "PUT", "/records/dig.example.com", {"txt": ["gatehouse-verification=from-dig"]})
            out = subprocess.run([dig, "+short", "@127.0.0.1", "-p", str(port), "dig.example.com", "TXT"],
                                 capture_output=True, text=True, timeout=15).stdout.strip()
            check(out == '"gatehouse-verification=from-dig"', f"dig +short TXT -> {out}")
            out = subprocess.run([dig, "+tcp", "+short", "@127.0.0.1", "-p", str(port), "dig.example.com", "TXT"],
                                 capture_output=True, text=True, timeout=15).stdout.strip()
            check(out == '"gatehouse-verification=from-dig"', f"dig +tcp +short TXT -> {out}")
            out = subprocess.run([dig, "@127.0.0.1", "-p", str(port), "missing.example.com", "TXT"],
                                 capture_output=True, text=True, timeout=15).stdout
            check("status: NXDOMAIN" in out and "flags: qr aa" in out, "dig: NXDOMAIN, aa")
        else:
            print("  (dig not installed: skipped the dig checks; install bind9-dnsutils)")
    finally:
        proc.stdin.close()
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = None
        check(code == 0, f"exits ({code}) when stdin closes")

    proc2, _ = start()
    proc2.send_signal(signal.SIGTERM)
    try:
        code = proc2.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc2.kill()
        code = None
    check(code == 0, f"exits ({code}) on SIGTERM")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"FAIL {e!r}")
    print(f"{passes} passed, {failures} failed")
    sys.exit(1 if failures else 0)
