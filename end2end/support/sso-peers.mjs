// The single sign-on test peers, started per test file: the OpenID Provider
// (tests/support/oidc/provider.mjs, npm oidc-provider), a throwaway OpenLDAP directory
// (tests/support/ldap/start_slapd.py) and the SAML IdP (tests/support/saml/idp.mjs, npm samlify).
// `make test-peers` installs all three (npm ci + slapd).
//
// Each peer prints one JSON line on stdout when ready. Each is spawned with a piped stdin that
// stays open: when it closes (stop(), or this process dying) the peer shuts itself down, and
// start_slapd.py stops its slapd and removes its temp dir. stop() closes stdin first, then sends
// SIGTERM, and SIGKILL only as a last resort (a SIGKILLed start_slapd.py would leak slapd).

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './harness.mjs';

export const OIDC_PROVIDER_DIR = path.join(REPO_ROOT, 'tests', 'support', 'oidc');
export const OIDC_PROVIDER = path.join(OIDC_PROVIDER_DIR, 'provider.mjs');
export const START_SLAPD = path.join(REPO_ROOT, 'tests', 'support', 'ldap', 'start_slapd.py');
export const SAML_IDP_DIR = path.join(REPO_ROOT, 'tests', 'support', 'saml');
export const SAML_IDP = path.join(SAML_IDP_DIR, 'idp.mjs');

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

// Peers still running when this process exits get SIGTERM (never SIGKILL: slapd would leak).
const livePeers = new Set();
process.on('exit', () => {
  for (const child of livePeers) {
    try { child.kill('SIGTERM'); } catch { /* already gone */ }
  }
});

const hasExited = (child) => child.exitCode !== null || child.signalCode !== null;

function waitExit(child, ms) {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => { clearTimeout(timer); resolve(true); });
  });
}

/**
 * Spawn `command args` with a piped stdin, wait for its first stdout line and parse it as JSON.
 * Returns { info, child, stderrTail(), stop() }.
 */
async function startPeer(label, command, args, { cwd = REPO_ROOT } = {}) {
  const child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  livePeers.add(child);
  child.once('exit', () => livePeers.delete(child));
  child.stdin.on('error', () => { /* EPIPE once the peer is gone */ });

  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err = (err + d).slice(-20_000); });
  const stderrTail = (lines = 30) => err.split('\n').slice(-lines).join('\n');

  const stop = async () => {
    if (hasExited(child)) return;
    try { child.stdin.end(); } catch { /* closed */ }
    if (await waitExit(child, STOP_GRACE_MS)) return;
    try { child.kill('SIGTERM'); } catch { /* gone */ }
    if (await waitExit(child, STOP_GRACE_MS)) return;
    try { child.kill('SIGKILL'); } catch { /* gone */ }
    await waitExit(child, STOP_GRACE_MS);
  };

  try {
    const info = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(
        `${label} printed no ready line within ${READY_TIMEOUT_MS} ms\nstdout: ${out}\nstderr:\n${stderrTail()}`)),
      READY_TIMEOUT_MS);
      child.on('error', (e) => { clearTimeout(timer); reject(new Error(`${label} could not start: ${e.message}`)); });
      child.stdout.on('data', (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl === -1) return;
        clearTimeout(timer);
        try {
          resolve(JSON.parse(out.slice(0, nl)));
        } catch (e) {
          reject(new Error(`${label} printed a line that is not JSON: ${out.slice(0, nl)}`));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${label} exited before it was ready (code ${code}, signal ${signal})\n` +
          `stdout: ${out}\nstderr:\n${stderrTail()}`));
      });
    });
    // Keep draining stdout so the peer can never block on a full pipe.
    child.stdout.resume();
    return { info, child, stderrTail, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** POST JSON to a peer's control API at `url`; returns the parsed answer. */
async function controlPost(url, body) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${url} answered ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The OpenID Provider on a free loopback port. info = { issuer, control }. */
export async function startOidcProvider() {
  if (!fs.existsSync(path.join(OIDC_PROVIDER_DIR, 'node_modules', 'oidc-provider'))) {
    throw new Error(`${OIDC_PROVIDER_DIR}/node_modules is missing: run \`make test-peers\` ` +
      '(or `npm ci` in tests/support/oidc)');
  }
  const peer = await startPeer('the OIDC provider', process.execPath, [OIDC_PROVIDER, '--port', '0'],
    { cwd: OIDC_PROVIDER_DIR });
  const { control } = peer.info;

  return {
    ...peer,
    issuer: peer.info.issuer,
    control,
    /** Register (or replace) a confidential client. */
    registerClient: (clientId, clientSecret, redirectUris) =>
      controlPost(`${control}/clients`, { client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris }),
    /** Rewrite the next id_token issued to `clientId` with these claim overrides (once). */
    tamperNextIdToken: (clientId, overrides) =>
      controlPost(`${control}/next-id-token?client_id=${encodeURIComponent(clientId)}`, overrides),
  };
}

/** A throwaway slapd on a free loopback port. info = { url, base_dn, bind_dn, bind_password }. */
export async function startSlapd() {
  if (!fs.existsSync('/usr/sbin/slapd')) {
    throw new Error('slapd is not installed: run `make test-peers` (or bash tests/support/ldap/install.sh)');
  }
  return startPeer('start_slapd.py', 'python3', [START_SLAPD, '--port', '0']);
}

/**
 * The SAML identity provider on a free loopback port. info = { base, metadata, entity_id }.
 * Its login page (GET /sso?SAMLRequest=...) has #username, an ignored #password and #sign-in;
 * the page after it posts the SAMLResponse to the registered ACS URL by itself.
 */
export async function startSamlIdp() {
  if (!fs.existsSync(path.join(SAML_IDP_DIR, 'node_modules', 'samlify'))) {
    throw new Error(`${SAML_IDP_DIR}/node_modules is missing: run \`make test-peers\` ` +
      '(or `bash tests/support/saml/install.sh`)');
  }
  const peer = await startPeer('the SAML IdP', process.execPath, [SAML_IDP, '--port', '0'], { cwd: SAML_IDP_DIR });
  const { base } = peer.info;
  return {
    ...peer,
    base,
    metadata: peer.info.metadata,
    entityId: peer.info.entity_id,
    /** Register (or replace) a service provider: its entity id and ACS URL. */
    registerSp: (entityId, acsUrl) => controlPost(`${base}/control/sp`, { entity_id: entityId, acs_url: acsUrl }),
    /** Negative-test flags for the next SAMLResponse only (see tests/support/saml/README.md). */
    tamperNextResponse: (flags) => controlPost(`${base}/control/next-response`, flags),
  };
}

/**
 * The DNS test server (tests/support/dns) on free loopback ports. info = { addr, control }.
 * Organizations verify their email domains through it (the server is started with
 * GATEHOUSE_DNS_SERVER = addr).
 */
export async function startDnsServer() {
  const peer = await startPeer('the DNS server', 'python3', [path.join(REPO_ROOT, 'tests/support/dns/dns_server.py')]);
  const { addr, control } = peer.info;
  return {
    ...peer,
    addr,
    /** Sets the TXT records of `name`. */
    publish: async (name, txt) => {
      const res = await fetch(`${control}/records/${name}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ txt }),
        signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`PUT ${control}/records/${name} answered ${res.status}`);
    },
  };
}
