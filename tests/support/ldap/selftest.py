#!/usr/bin/env python3
"""Self-test of start_slapd.py: python3 selftest.py (exit 0 = all checks passed). Uses ldap-utils."""
import glob
import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEOPLE = "ou=people,dc=example,dc=com"
passes = failures = 0


def check(cond, what):
    global passes, failures
    if cond:
        passes += 1
        print(f"  ok   {what}", flush=True)
    else:
        failures += 1
        print(f"  FAIL {what}", flush=True)


def start(*extra):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "start_slapd.py"), *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"start_slapd.py printed nothing (exit {proc.wait()})")
    return proc, json.loads(line)


def ldap(tool, url, *args, dn=None, password=None):
    cmd = [tool, "-x", "-H", url]
    if dn is not None:
        cmd += ["-D", dn, "-w", password]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=20)
    return r.returncode, r.stdout, r.stderr


def values(ldif, attr):
    return sorted(line.split(": ", 1)[1] for line in ldif.splitlines() if line.lower().startswith(attr.lower() + ": "))


def port_open(url):
    host, port = url.removeprefix("ldap://").split(":")
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


def wait_exit(proc, seconds):
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def main():
    before = set(glob.glob("/tmp/gatehouse-slapd-*"))
    t0 = time.monotonic()
    proc, info = start()
    print(f"ready in {time.monotonic() - t0:.1f}s: {json.dumps(info)}")
    url, base, admin_dn, admin_pw = info["url"], info["base_dn"], info["bind_dn"], info["bind_password"]
    try:
        check(url.startswith("ldap://127.0.0.1:") and base == "dc=example,dc=com"
              and admin_dn == "cn=admin,dc=example,dc=com" and admin_pw == "admin-secret", "ready line fields")
        alice = f"uid=alice,{PEOPLE}"

        rc, out, _ = ldap("ldapwhoami", url, dn=alice, password="alice-password")
        check(rc == 0 and out.strip() == f"dn:{alice}", f"alice + right password: rc {rc}, whoami {out.strip()}")
        rc, _, err = ldap("ldapwhoami", url, dn=alice, password="wrong")
        check(rc == 49, f"alice + wrong password: rc {rc} (invalidCredentials) {err.strip()}")
        rc, _, _ = ldap("ldapwhoami", url, dn=f"uid=nobody,{PEOPLE}", password="x")
        check(rc == 49, f"unknown user: rc {rc}")
        rc, out, err = ldap("ldapwhoami", url, dn=alice, password="")
        check(rc == 53 and "unauthenticated bind" in err,
              f"alice + EMPTY password (unauthenticated bind): rc {rc} unwillingToPerform, not a login: {' '.join(err.split())}")
        rc, out, _ = ldap("ldapwhoami", url)
        check(rc == 0 and out.strip() == "anonymous", f"anonymous bind (empty DN + password) succeeds as '{out.strip()}'")
        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", base, "(uid=alice)", "dn")
        check(rc == 32 and "uid=alice" not in out, f"anonymous search sees nothing (rc {rc} noSuchObject)")
        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", base, "(uid=alice)", "userPassword",
                          dn=f"uid=bob,{PEOPLE}", password="bob-password")
        check(rc == 0 and "uid=alice" in out and "userPassword" not in out, "bob can read alice but not her userPassword")

        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", base, "(&(objectClass=inetOrgPerson)(uid=alice))",
                          "mail", "cn", "memberOf", dn=admin_dn, password=admin_pw)
        check(rc == 0 and values(out, "mail") == ["alice@example.com"] and values(out, "cn") == ["Alice Admin"],
              "service bind finds alice: mail alice@example.com, cn Alice Admin")
        check(values(out, "memberOf") == ["cn=gh-admins,ou=groups,dc=example,dc=com", "cn=staff,ou=groups,dc=example,dc=com"],
              f"alice memberOf (overlay): {values(out, 'memberOf')}")
        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", f"ou=groups,{base}",
                          f"(&(objectClass=groupOfNames)(member={alice}))", "cn", dn=admin_dn, password=admin_pw)
        check(rc == 0 and values(out, "cn") == ["gh-admins", "staff"], f"groups with (member=<alice dn>): {values(out, 'cn')}")
        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", f"ou=groups,{base}",
                          f"(&(objectClass=groupOfNames)(member=uid=bob,{PEOPLE}))", "cn", dn=alice, password="alice-password")
        check(rc == 0 and values(out, "cn") == ["staff"], f"bob's groups (searched while bound as alice): {values(out, 'cn')}")
        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", base, "(uid=carol)", "mail", "cn", dn=admin_dn, password=admin_pw)
        check(rc == 0 and "uid=carol" in out and not values(out, "mail"), "carol exists without a mail attribute")

        # filter injection: username `*)(uid=admin` pasted unescaped into (&(objectClass=inetOrgPerson)(uid=%s))
        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", base, "(&(objectClass=inetOrgPerson)(uid=*)(uid=admin))", "uid",
                          dn=admin_dn, password=admin_pw)
        check(rc == 0 and values(out, "uid") == ["admin"], "unescaped injection `*)(uid=admin` matches the admin user")
        rc, out, _ = ldap("ldapsearch", url, "-LLL", "-b", base, r"(&(objectClass=inetOrgPerson)(uid=\2a\29\28uid=admin))", "uid",
                          dn=admin_dn, password=admin_pw)
        check(rc == 0 and not values(out, "uid"), "RFC 4515-escaped `*)(uid=admin` matches nothing")
    finally:
        proc.stdin.close()  # closing stdin must stop slapd and remove the temp dir
        code = wait_exit(proc, 15)
        check(code == 0, f"start_slapd.py exits ({code}) when stdin closes")
        if code is None:
            proc.kill()
    check(not port_open(url), "slapd no longer listens after stdin close")

    proc2, info2 = start("--admin-password", "other-secret")
    rc, _, _ = ldap("ldapwhoami", info2["url"], dn=info2["bind_dn"], password="other-secret")
    check(info2["bind_password"] == "other-secret" and rc == 0, "--admin-password other-secret binds")
    proc2.send_signal(signal.SIGTERM)
    code = wait_exit(proc2, 15)
    check(code == 0 and not port_open(info2["url"]), f"SIGTERM stops it ({code})")
    check(set(glob.glob("/tmp/gatehouse-slapd-*")) <= before, "temp dirs removed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        failures += 1
        print(f"FAIL {e!r}")
    print(f"{passes} passed, {failures} failed")
    sys.exit(1 if failures else 0)
