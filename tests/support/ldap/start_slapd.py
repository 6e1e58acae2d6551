#!/usr/bin/env python3
"""Throwaway OpenLDAP (slapd) directory for Gatehouse tests. Python 3.11, stdlib only.

    python3 start_slapd.py [--port 0] [--admin-password admin-secret] [--extra-ldif FILE]

Creates a temp dir with slapd.conf + an mdb database, loads the test users and groups, starts
slapd in the foreground on 127.0.0.1, waits until a bind works and prints ONE JSON line:

    {"url":"ldap://127.0.0.1:PORT","base_dn":"dc=example,dc=com","bind_dn":"cn=admin,dc=example,dc=com","bind_password":"..."}

Stops slapd (by PID) and deletes the temp dir on SIGTERM/SIGINT, when its stdin (a pipe or
socket) reaches EOF, or when slapd dies. Needs Debian packages slapd + ldap-utils (install.sh).
See README.md for the directory contents.
"""
import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

BASE_DN = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{BASE_DN}"
PEOPLE = f"ou=people,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"
SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"

# uid -> (cn, sn, givenName, mail or None, password)
USERS = {
    "alice": ("Alice Admin", "Admin", "Alice", "alice@example.com", "alice-password"),
    "bob": ("Bob Member", "Member", "Bob", "bob@example.com", "bob-password"),
    # the entry a filter injection such as `*)(uid=admin` would match
    "admin": ("Directory Admin", "Admin", "Directory", "admin@example.com", "admin-password"),
    # a user without a mail attribute
    "carol": ("Carol Nomail", "Nomail", "Carol", None, "carol-password"),
}
# group cn -> member uids (groupOfNames)
GROUP_MEMBERS = {"gh-admins": ["alice"], "staff": ["alice", "bob"]}


def log(msg):
    print(f"start_slapd: {msg}", file=sys.stderr, flush=True)


def ssha(password: str) -> str:
    salt = os.urandom(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def user_dn(uid):
    return f"uid={uid},{PEOPLE}"


def base_ldif() -> str:
    parts = [
        f"dn: {BASE_DN}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for number, (uid, (cn, sn, given, mail, password)) in enumerate(USERS.items()):
        entry = (
            f"dn: {user_dn(uid)}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n"
            f"uid: {uid}\ncn: {cn}\nsn: {sn}\ngivenName: {given}\ndisplayName: {cn}\n"
            f"uidNumber: {10001 + number}\ngidNumber: 10000\nhomeDirectory: /home/{uid}\n"
            f"userPassword: {ssha(password)}\n"
        )
        if mail:
            entry += f"mail: {mail}\n"
        parts.append(entry)
    return "\n".join(parts)


def groups_ldif() -> str:
    # Added over LDAP after start so that the memberof overlay fills in memberOf on the users.
    parts = []
    for cn, members in GROUP_MEMBERS.items():
        entry = f"dn: cn={cn},{GROUPS}\nobjectClass: groupOfNames\ncn: {cn}\n"
        entry += "".join(f"member: {user_dn(uid)}\n" for uid in members)
        parts.append(entry)
    return "\n".join(parts)


def slapd_conf(tmp, admin_password) -> str:
    schemas = "".join(f"include {SCHEMA_DIR}/{s}.schema\n" for s in ("core", "cosine", "inetorgperson", "nis"))
    return f"""{schemas}
pidfile {tmp}/slapd.pid
argsfile {tmp}/slapd.args
modulepath {MODULE_DIR}
moduleload back_mdb
moduleload memberof
loglevel none
# defaults kept on purpose: anonymous bind allowed (empty DN + empty password),
# unauthenticated bind (DN + empty password) refused with unwillingToPerform (53).

database mdb
maxsize 67108864
suffix "{BASE_DN}"
rootdn "{ADMIN_DN}"
rootpw {ssha(admin_password)}
directory {tmp}/data

overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint TRUE

access to attrs=userPassword
    by self write
    by anonymous auth
    by * none
access to *
    by users read
    by * none
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kw)


def bind_ok(url, dn, password) -> bool:
    r = run(["ldapwhoami", "-x", "-H", url, "-D", dn, "-w", password, "-o", "nettimeout=2"], timeout=10)
    return r.returncode == 0


def stdin_is_pipe() -> bool:
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    ap.add_argument("--admin-password", default="admin-secret", help="password of the rootdn cn=admin,dc=example,dc=com")
    ap.add_argument("--extra-ldif", help="an extra LDIF file loaded with slapadd (after the built-in entries)")
    args = ap.parse_args()

    for tool in (SLAPD, SLAPADD, shutil.which("ldapwhoami") or "/usr/bin/ldapwhoami", shutil.which("ldapadd") or "/usr/bin/ldapadd"):
        if not os.path.exists(tool):
            log(f"{tool} missing: run tests/support/ldap/install.sh (apt-get install -y --no-install-recommends slapd ldap-utils)")
            sys.exit(3)

    tmp = tempfile.mkdtemp(prefix="gatehouse-slapd-")
    proc = None
    stop = threading.Event()
    state = {"cleaned": False}

    def cleanup():
        if state["cleaned"]:
            return
        state["cleaned"] = True
        if proc is not None and proc.poll() is None:
            proc.terminate()  # slapd shuts down cleanly on SIGTERM
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    def on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    try:
        os.makedirs(f"{tmp}/data")
        conf = f"{tmp}/slapd.conf"
        with open(conf, "w") as f:
            f.write(slapd_conf(tmp, args.admin_password))
        with open(f"{tmp}/base.ldif", "w") as f:
            f.write(base_ldif())
        with open(f"{tmp}/groups.ldif", "w") as f:
            f.write(groups_ldif())
        r = run([SLAPADD, "-f", conf, "-l", f"{tmp}/base.ldif"])
        if r.returncode != 0:
            raise RuntimeError(f"slapadd failed: {r.stderr.strip()}")
        if args.extra_ldif:
            r = run([SLAPADD, "-f", conf, "-l", args.extra_ldif])
            if r.returncode != 0:
                raise RuntimeError(f"slapadd {args.extra_ldif} failed: {r.stderr.strip()}")

        url = None
        for attempt in range(5):
            port = args.port or free_port()
            url = f"ldap://127.0.0.1:{port}"
            proc = subprocess.Popen([SLAPD, "-f", conf, "-h", f"{url}/", "-d", "0"],
                                    stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and proc.poll() is None and not stop.is_set():
                if bind_ok(url, ADMIN_DN, args.admin_password):
                    break
                time.sleep(0.1)
            else:
                if stop.is_set():
                    return 0
                if proc.poll() is None:
                    raise RuntimeError("slapd did not accept a bind within 20 s")
                log(f"slapd exited with {proc.returncode} on port {port} (attempt {attempt + 1})")
                if args.port:
                    raise RuntimeError("slapd could not start on the requested port")
                proc = None
                continue
            break
        else:
            raise RuntimeError("slapd failed to start 5 times")
        if stop.is_set():
            return 0

        r = run(["ldapadd", "-x", "-H", url, "-D", ADMIN_DN, "-w", args.admin_password, "-f", f"{tmp}/groups.ldif"])
        if r.returncode != 0:
            raise RuntimeError(f"ldapadd groups failed: {r.stderr.strip()}")

        print(json.dumps({"url": url, "base_dn": BASE_DN, "bind_dn": ADMIN_DN, "bind_password": args.admin_password},
                         separators=(",", ":")), flush=True)

        if stdin_is_pipe():
            def watch_stdin():
                try:
                    while os.read(0, 4096):
                        pass
                except OSError:
                    pass
                stop.set()
            threading.Thread(target=watch_stdin, daemon=True).start()

        while not stop.wait(0.2):
            if proc.poll() is not None:
                log(f"slapd exited unexpectedly with {proc.returncode}")
                return 1
        return 0
    except Exception as e:  # noqa: BLE001 - report and clean up
        log(f"error: {e}")
        return 1
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
