#!/usr/bin/env node
// A real OpenID Provider (npm `oidc-provider`) for Gatehouse's integration and e2e tests.
//
//   node provider.mjs --port 0      (0 = any free port; listens on 127.0.0.1 only)
//
// When ready it prints exactly one JSON line to stdout:
//   {"issuer":"http://127.0.0.1:PORT","control":"http://127.0.0.1:PORT/control"}
// Everything else (oidc-provider notices, errors) goes to stderr. It exits on SIGTERM/SIGINT and,
// when stdin is a pipe or socket, as soon as stdin closes (so a dead test harness leaves nothing
// running). See README.md for the control API and the claim rules.

import { randomBytes } from 'node:crypto';
import { fstatSync } from 'node:fs';
import http from 'node:http';

// oidc-provider prints notices with console.info: keep stdout for the single ready line.
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

const jose = await import('jose');
const { default: Provider } = await import('oidc-provider');

// ---------------------------------------------------------------------------------------------
// command line

function parseArgs(argv) {
  const opts = { port: 0, watchStdin: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--port') {
      opts.port = Number(argv[(i += 1)]);
    } else if (arg.startsWith('--port=')) {
      opts.port = Number(arg.slice('--port='.length));
    } else if (arg === '--no-stdin-watch') {
      opts.watchStdin = false;
    } else {
      console.error(`unknown argument: ${arg}`);
      process.exit(2);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) {
    console.error('--port must be an integer 0..65535');
    process.exit(2);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// accounts: every login name exists, its claims are derived from the name itself

function capitalise(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : word;
}

function claimsForLogin(login) {
  const hash = login.indexOf('#');
  const base = hash === -1 ? login : login.slice(0, hash);
  const email = base.includes('@') ? base : `${base}@example.com`;
  const local = email.slice(0, email.lastIndexOf('@'));
  // `sub` is not set here: oidc-provider always makes it the accountId, i.e. the whole login string.
  const claims = {
    email,
    email_verified: !base.startsWith('unverified'),
    name: local.split(/[._-]+/u).filter(Boolean).map(capitalise).join(' ') || local,
    preferred_username: base,
  };
  if (hash !== -1) {
    claims.groups = login.slice(hash + 1).split('+').filter(Boolean);
  }
  return claims;
}

async function findAccount(_ctx, accountId) {
  if (typeof accountId !== 'string' || accountId.length === 0) return undefined;
  return {
    accountId,
    async claims() {
      return claimsForLogin(accountId);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// storage: one in-memory Map for every model (clients registered at run time live here too)

const store = new Map(); // key -> { payload, expiresAt }
let writes = 0;

function live(key) {
  const entry = store.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry;
}

function prune() {
  const now = Date.now();
  for (const [key, entry] of store) {
    if (entry.expiresAt !== undefined && entry.expiresAt <= now) store.delete(key);
  }
}

// Token models revoked together by revokeByGrantId (never the Interaction or Session).
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

class MemoryAdapter {
  constructor(name) {
    this.name = name;
  }

  key(id) {
    return `${this.name}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    writes += 1;
    if (writes % 500 === 0) prune();
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    store.set(this.key(id), { payload, expiresAt });
    if (payload.uid !== undefined) store.set(`${this.name}:uid:${payload.uid}`, { payload: id, expiresAt });
    if (payload.userCode !== undefined) store.set(`${this.name}:userCode:${payload.userCode}`, { payload: id, expiresAt });
    if (GRANTABLE.has(this.name) && payload.grantId !== undefined) {
      const grantKey = `grant:${payload.grantId}`;
      const members = live(grantKey)?.payload ?? new Set();
      members.add(this.key(id));
      store.set(grantKey, { payload: members });
    }
  }

  async find(id) {
    return live(this.key(id))?.payload;
  }

  async findByUid(uid) {
    const id = live(`${this.name}:uid:${uid}`)?.payload;
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = live(`${this.name}:userCode:${userCode}`)?.payload;
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const entry = live(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    const members = live(grantKey)?.payload;
    if (members) for (const key of members) store.delete(key);
    store.delete(grantKey);
  }
}

const clientStore = new MemoryAdapter('Client');

// ---------------------------------------------------------------------------------------------
// signing key: generated here so this script can re-sign tampered id_tokens with it

const KID = `gatehouse-test-${randomBytes(4).toString('hex')}`;
const { privateKey: signingKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(signingKey)), kid: KID, alg: 'RS256', use: 'sig' };

// ---------------------------------------------------------------------------------------------
// id_token overrides, one-shot: per client_id, or for whichever client gets the next id_token

const ANY = Symbol('any client');
const pendingOverrides = new Map(); // client_id | ANY -> overrides object

function takeOverrides(clientId) {
  for (const key of [clientId, ANY]) {
    if (pendingOverrides.has(key)) {
      const value = pendingOverrides.get(key);
      pendingOverrides.delete(key);
      return value;
    }
  }
  return undefined;
}

async function rewriteIdToken(idToken, overrides) {
  const header = jose.decodeProtectedHeader(idToken);
  const payload = jose.decodeJwt(idToken);
  const {
    __sign_with_other_key: otherKey, __unsigned: unsigned, __header: headerOverrides, ...claims
  } = overrides;
  for (const [name, value] of Object.entries(claims)) {
    if (value === null) delete payload[name];
    else payload[name] = value;
  }
  const newHeader = { ...header, ...(headerOverrides ?? {}) };
  if (unsigned) {
    const enc = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
    return `${enc({ ...newHeader, alg: 'none' })}.${enc(payload)}.`;
  }
  let key = signingKey;
  if (otherKey) {
    ({ privateKey: key } = await jose.generateKeyPair(newHeader.alg ?? 'RS256'));
  }
  return new jose.SignJWT(payload).setProtectedHeader(newHeader).sign(key);
}

// ---------------------------------------------------------------------------------------------
// HTTP server first (the port decides the issuer), then the provider

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(opts.port, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  adapter: MemoryAdapter,
  findAccount,
  jwks: { keys: [signingJwk] },
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    // Plain http on 127.0.0.1: never `secure` (oidc-provider only sets it on https), SameSite Lax.
    long: { httpOnly: true, sameSite: 'lax' },
    short: { httpOnly: true, sameSite: 'lax' },
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'groups'],
    groups: ['groups'],
  },
  // Put scope-derived claims (email, name, groups) in the id_token too, not only in userinfo.
  conformIdTokenClaims: false,
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Session: 86400, Grant: 86400,
  },
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    userinfo: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    const safe = (s) => String(s).replace(/[&<>"']/gu, (c) => `&#${c.charCodeAt(0)};`);
    ctx.body = `<!DOCTYPE html><html><head><title>oidc error</title></head><body><h1>oops! something went wrong</h1><pre id="error">${
      Object.entries(out).map(([k, v]) => `${safe(k)}: ${safe(v)}`).join('\n')}</pre></body></html>`;
  },
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'end_session.error']) {
  provider.on(event, (ctx, err) => {
    console.error(`[oidc-provider] ${event}: ${err?.name ?? ''} ${err?.message ?? err} ${err?.error_description ?? ''}`.trim());
  });
}

// Tamper with the next id_token (see POST /control/next-id-token): runs after the token endpoint.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route !== 'token' || ctx.status !== 200 || typeof ctx.body?.id_token !== 'string') return;
  const overrides = takeOverrides(ctx.oidc.client?.clientId);
  if (overrides) {
    ctx.body = { ...ctx.body, id_token: await rewriteIdToken(ctx.body.id_token, overrides) };
    console.error(`[oidc-provider] id_token tampered for ${ctx.oidc.client?.clientId}: ${JSON.stringify(overrides)}`);
  }
});

// ---------------------------------------------------------------------------------------------
// control API (plain node handler in front of the provider)

function sendJson(res, status, body) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

async function readJson(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 1 << 20) throw new Error('body too large');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.trim() === '' ? {} : JSON.parse(text);
}

async function registerClient(body) {
  const {
    client_id: clientId, client_secret: clientSecret, redirect_uris: redirectUris, ...rest
  } = body ?? {};
  if (typeof clientId !== 'string' || clientId === '') throw new Error('client_id must be a non-empty string');
  if (typeof clientSecret !== 'string' || clientSecret === '') throw new Error('client_secret must be a non-empty string');
  if (!Array.isArray(redirectUris) || redirectUris.length === 0 || !redirectUris.every((u) => typeof u === 'string')) {
    throw new Error('redirect_uris must be a non-empty array of strings');
  }
  const metadata = {
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', // client_secret_post is accepted as well
    scope: 'openid email profile groups',
    ...rest, // any other client metadata, e.g. post_logout_redirect_uris
  };
  await provider.Client.validate(metadata); // throws on invalid metadata
  await clientStore.upsert(clientId, metadata);
  return metadata;
}

async function control(req, res, path) {
  const url = new URL(req.url, issuer);
  if (path === '/control/health' && req.method === 'GET') {
    return sendJson(res, 200, { ok: true, issuer });
  }
  if (path === '/control/clients' && req.method === 'POST') {
    try {
      return sendJson(res, 201, await registerClient(await readJson(req)));
    } catch (err) {
      return sendJson(res, 400, { error: 'invalid_client_metadata', error_description: err.error_description ?? err.message });
    }
  }
  const clientMatch = /^\/control\/clients\/([^/]+)$/u.exec(path);
  if (clientMatch && req.method === 'DELETE') {
    await clientStore.destroy(decodeURIComponent(clientMatch[1]));
    return sendJson(res, 204);
  }
  if (path === '/control/next-id-token') {
    const target = url.searchParams.get('client_id') ?? ANY;
    if (req.method === 'POST') {
      let body;
      try {
        body = await readJson(req);
      } catch (err) {
        return sendJson(res, 400, { error: 'invalid_json', error_description: err.message });
      }
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        return sendJson(res, 400, { error: 'invalid_json', error_description: 'expected a JSON object' });
      }
      pendingOverrides.set(target, body);
      return sendJson(res, 200, { pending: body, client_id: target === ANY ? null : target });
    }
    if (req.method === 'GET') {
      return sendJson(res, 200, { pending: pendingOverrides.get(target) ?? null });
    }
    if (req.method === 'DELETE') {
      pendingOverrides.delete(target);
      return sendJson(res, 204);
    }
  }
  return sendJson(res, 404, { error: 'not_found' });
}

const providerHandler = provider.callback();
server.on('request', (req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/control' || path.startsWith('/control/')) {
    control(req, res, path).catch((err) => {
      console.error('[oidc-provider] control error', err);
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(err) });
    });
    return;
  }
  providerHandler(req, res);
});

// ---------------------------------------------------------------------------------------------
// lifecycle

let stopping = false;
function shutdown(reason) {
  if (stopping) return;
  stopping = true;
  console.error(`[oidc-provider] stopping (${reason})`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGHUP', () => shutdown('SIGHUP'));

// Only a pipe or socket on stdin means "a parent holds the other end": /dev/null or a file would
// end at once, and a terminal is left alone.
if (opts.watchStdin) {
  let watch = false;
  try {
    const st = fstatSync(0);
    watch = st.isFIFO() || st.isSocket();
  } catch {
    watch = false;
  }
  if (watch) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('close', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }
}

process.stdout.write(`${JSON.stringify({ issuer, control: `${issuer}/control` })}\n`);
