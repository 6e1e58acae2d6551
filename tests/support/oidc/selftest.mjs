#!/usr/bin/env node
// Self-test of provider.mjs: starts it, logs in as a plain HTTP client (fetch with manual
// redirects and a small path-aware cookie jar), checks the tokens and every control.
//   node selftest.mjs            PASS/FAIL per check; exit 1 on any failure
//   node selftest.mjs --trace    also print each HTTP request of the first login
//   COOKIE_DEBUG=1 node selftest.mjs   also print the cookies sent and set on every request

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';

const TRACE = process.argv.includes('--trace');
const here = fileURLToPath(new URL('.', import.meta.url));
let failures = 0;
let passes = 0;

function check(name, ok, detail = '') {
  if (ok) passes += 1; else failures += 1;
  console.log(`${ok ? 'PASS' : 'FAIL'} ${name}${!ok && detail ? ` -- ${detail}` : ''}`);
}

async function expectReject(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return err;
  }
}

// ---------------------------------------------------------------------------------------------
// provider process

function startProvider(extraArgs = []) {
  const child = spawn(process.execPath, ['provider.mjs', '--port', '0', ...extraArgs], {
    cwd: here, stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const ready = new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl !== -1) resolve(JSON.parse(stdout.slice(0, nl)));
    });
    child.once('exit', (code) => reject(new Error(`provider exited early (${code}): ${stderr}`)));
  });
  const timeout = new Promise((_, reject) => { setTimeout(() => reject(new Error('provider not ready in 15 s')), 15000).unref(); });
  return {
    child, ready: Promise.race([ready, timeout]), stderr: () => stderr, stdout: () => stdout,
  };
}

function exitWithin(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return Promise.race([
    once(child, 'exit').then(([code, signal]) => ({ code, signal })),
    new Promise((resolve) => { setTimeout(() => resolve(null), ms).unref(); }),
  ]);
}

// ---------------------------------------------------------------------------------------------
// HTTP client: manual redirects, cookie jar keyed by name + path (like a real browser / reqwest)

class CookieJar {
  constructor() { this.cookies = new Map(); }

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path') path = v || '/';
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${name};${path}`;
      if (expired) this.cookies.delete(id); else this.cookies.set(id, { name, value, path });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    const matching = [...this.cookies.values()].filter((c) => pathname === c.path
      || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
    matching.sort((a, b) => b.path.length - a.path.length);
    return matching.map((c) => `${c.name}=${c.value}`).join('; ');
  }
}

async function request(jar, url, { method = 'GET', form, headers = {} } = {}, trace = null) {
  const h = { ...headers };
  const cookie = jar.header(url);
  if (cookie) h.cookie = cookie;
  let body;
  if (form) {
    body = new URLSearchParams(form).toString();
    h['content-type'] = 'application/x-www-form-urlencoded';
  }
  const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
  jar.store(res);
  if (process.env.COOKIE_DEBUG) console.log('   SENT', h.cookie ?? '', '\n   SETCOOKIE', res.headers.getSetCookie().map((c) => c.slice(0, 120)).join('\n              '));
  const text = await res.text();
  const location = res.headers.get('location');
  if (trace) {
    const p = new URL(url);
    trace.push(`${method} ${p.pathname}${p.search.length > 60 ? `${p.search.slice(0, 60)}...` : p.search}${form ? ` [${Object.keys(form).join(',')}]` : ''} -> ${res.status}${location ? ` Location: ${location.length > 90 ? `${location.slice(0, 90)}...` : location}` : ''}`);
  }
  return {
    status: res.status, location: location && new URL(location, url).href, rawLocation: location, text, headers: res.headers,
  };
}

function parseForm(html) {
  const form = /<form([^>]*)>([\s\S]*?)<\/form>/u.exec(html);
  if (!form || !/method="post"/iu.test(form[1])) return null;
  const action = /action="([^"]+)"/u.exec(form[1])[1].replace(/&amp;/gu, '&').replace(/&#x2F;/giu, '/').replace(/&#47;/gu, '/');
  const inputs = {};
  for (const m of form[2].matchAll(/<input[^>]*>/gu)) {
    const name = /name="([^"]+)"/u.exec(m[0])?.[1];
    const value = /value="([^"]*)"/u.exec(m[0])?.[1] ?? '';
    if (name) inputs[name] = value;
  }
  return { action, inputs };
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// Runs authorize -> interactions -> redirect back; returns the redirect's query and the trace.
async function authorize(ctx, {
  jar = new CookieJar(), login, client, nonce = b64url(randomBytes(16)), state = b64url(randomBytes(16)),
  scope = 'openid email profile', pkce = true, extra = {}, trace = null,
}) {
  const verifier = b64url(randomBytes(32));
  const params = new URLSearchParams({
    response_type: 'code', client_id: client.client_id, redirect_uri: client.redirect_uris[0], scope, state, nonce, ...extra,
  });
  if (pkce) {
    params.set('code_challenge', b64url(createHash('sha256').update(verifier).digest()));
    params.set('code_challenge_method', 'S256');
  }
  let res = await request(jar, `${ctx.discovery.authorization_endpoint}?${params}`, {}, trace);
  const steps = [];
  for (let i = 0; i < 12; i += 1) {
    if (res.status >= 300 && res.status < 400) {
      if (res.location.startsWith(client.redirect_uris[0])) {
        const q = new URL(res.location).searchParams;
        return {
          query: Object.fromEntries(q), verifier, nonce, state, steps, jar,
        };
      }
      res = await request(jar, res.location, {}, trace);
    } else if (res.status === 200) {
      const form = parseForm(res.text);
      if (!form) throw new Error(`no form on page: ${res.text.slice(0, 300)}`);
      steps.push(form.inputs.prompt ?? (form.inputs.logout ? 'logout' : 'form'));
      const fields = { ...form.inputs };
      if (form.inputs.prompt === 'login') {
        fields.login = login;
        fields.password = 'any-password';
      }
      res = await request(jar, form.action, { method: 'POST', form: fields }, trace);
    } else {
      if (trace) console.log(trace.join('\n'));
      throw new Error(`unexpected ${res.status}: ${res.text.slice(0, 300)}`);
    }
  }
  throw new Error('too many steps');
}

async function token(ctx, client, code, verifier, { auth = 'basic' } = {}) {
  const form = {
    grant_type: 'authorization_code', code, redirect_uri: client.redirect_uris[0], code_verifier: verifier,
  };
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (auth === 'basic') {
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;
  } else {
    form.client_id = client.client_id;
    form.client_secret = client.client_secret;
  }
  const res = await fetch(ctx.discovery.token_endpoint, { method: 'POST', headers, body: new URLSearchParams(form).toString() });
  return { status: res.status, body: await res.json() };
}

async function loginAndToken(ctx, opts) {
  const a = await authorize(ctx, opts);
  if (!a.query.code) throw new Error(`no code: ${JSON.stringify(a.query)}`);
  const t = await token(ctx, opts.client, a.query.code, a.verifier, opts);
  if (t.status !== 200) throw new Error(`token ${t.status}: ${JSON.stringify(t.body)}`);
  return { ...a, tokens: t.body };
}

async function control(ctx, method, path, body) {
  const res = await fetch(`${ctx.control}${path}`, {
    method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const p = startProvider();
  let ctx;
  try {
    ctx = await p.ready;
    check('ready line is {"issuer","control"} on 127.0.0.1', /^http:\/\/127\.0\.0\.1:\d+$/u.test(ctx.issuer) && ctx.control === `${ctx.issuer}/control`, JSON.stringify(ctx));
    ctx.discovery = await (await fetch(`${ctx.issuer}/.well-known/openid-configuration`)).json();
    check('discovery issuer equals issuer', ctx.discovery.issuer === ctx.issuer, ctx.discovery.issuer);
    const health = await fetch(`${ctx.control}/health`);
    check('GET /control/health -> 200', health.status === 200, String(health.status));
    const jwks = jose.createLocalJWKSet(await (await fetch(ctx.discovery.jwks_uri)).json());
    const verify = (jwt, client, extra = {}) => jose.jwtVerify(jwt, jwks, {
      issuer: ctx.issuer, audience: client.client_id, algorithms: ['RS256'], ...extra,
    });

    const clientA = { client_id: 'gatehouse-a', client_secret: 'secret-a', redirect_uris: ['http://127.0.0.1:3000/auth/oidc/callback'] };
    const clientB = { client_id: 'gatehouse-b', client_secret: 'secret-b', redirect_uris: ['http://127.0.0.1:3001/cb'] };
    for (const c of [clientA, clientB]) {
      const r = await control(ctx, 'POST', '/clients', c);
      check(`POST /control/clients ${c.client_id} -> 201`, r.status === 201, JSON.stringify(r.body));
    }
    const bad = await control(ctx, 'POST', '/clients', { client_id: 'x' });
    check('POST /control/clients without secret/redirect_uris -> 400', bad.status === 400, JSON.stringify(bad));

    // --- full flow for alice#gh-admins+staff
    const trace = TRACE ? [] : null;
    const alice = await loginAndToken(ctx, { login: 'alice#gh-admins+staff', client: clientA, trace });
    if (trace) console.log(trace.map((l) => `  ${l}`).join('\n'));
    check('two interaction steps: login then consent', JSON.stringify(alice.steps) === '["login","consent"]', JSON.stringify(alice.steps));
    check('redirect back carries code, state and iss', alice.query.state === alice.state && alice.query.iss === ctx.issuer && !!alice.query.code, JSON.stringify(alice.query));
    check('token response has id_token, access_token, token_type Bearer', !!alice.tokens.id_token && !!alice.tokens.access_token && alice.tokens.token_type === 'Bearer', JSON.stringify(Object.keys(alice.tokens)));
    let claims;
    try {
      ({ payload: claims } = await verify(alice.tokens.id_token, clientA));
      check('id_token signature verifies against JWKS (iss, aud, exp ok)', true);
    } catch (err) {
      check('id_token signature verifies against JWKS (iss, aud, exp ok)', false, err.message);
      claims = jose.decodeJwt(alice.tokens.id_token);
    }
    check('sub = the whole login, alice#gh-admins+staff', claims.sub === 'alice#gh-admins+staff', claims.sub);
    check('email = alice@example.com', claims.email === 'alice@example.com', claims.email);
    check('email_verified = true', claims.email_verified === true, String(claims.email_verified));
    check('name = Alice', claims.name === 'Alice', claims.name);
    check('groups = ["gh-admins","staff"] in id_token', JSON.stringify(claims.groups) === '["gh-admins","staff"]', JSON.stringify(claims.groups));
    check('nonce echoed', claims.nonce === alice.nonce, claims.nonce);
    const ui = await fetch(ctx.discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${alice.tokens.access_token}` } });
    const uiBody = await ui.json();
    check('userinfo returns the same email and groups', ui.status === 200 && uiBody.email === 'alice@example.com' && JSON.stringify(uiBody.groups) === '["gh-admins","staff"]', JSON.stringify(uiBody));

    // --- same browser again: session and grant exist, so no interaction at all
    const again = await loginAndToken(ctx, { jar: alice.jar, login: 'ignored', client: clientA });
    check('second authorize with the same cookies skips login and consent', again.steps.length === 0 && jose.decodeJwt(again.tokens.id_token).sub === 'alice#gh-admins+staff', JSON.stringify(again.steps));
    const forced = await authorize(ctx, {
      jar: alice.jar, login: 'bob', client: clientA, extra: { prompt: 'login' }, trace: TRACE ? [] : null,
    });
    check('prompt=login forces the login form again', forced.steps[0] === 'login' && !!forced.query.code, JSON.stringify(forced.steps));
    check('switching user in the same jar: login, logout auto-form, consent', JSON.stringify(forced.steps) === '["login","logout","consent"]', JSON.stringify(forced.steps));

    // --- client_secret_post accepted too
    const post = await loginAndToken(ctx, { login: 'dave', client: clientA, auth: 'post' });
    check('client_secret_post accepted at the token endpoint', !!post.tokens.id_token);

    // --- PKCE is required; wrong verifier fails
    const noPkce = await authorize(ctx, { login: 'erin', client: clientA, pkce: false });
    check('authorize without code_challenge -> error=invalid_request', noPkce.query.error === 'invalid_request', JSON.stringify(noPkce.query));
    const wrongVerifier = await authorize(ctx, { login: 'erin', client: clientA });
    const wv = await token(ctx, clientA, wrongVerifier.query.code, b64url(randomBytes(32)));
    check('wrong code_verifier -> invalid_grant', wv.status === 400 && wv.body.error === 'invalid_grant', JSON.stringify(wv));

    // --- claim rules
    const unv = await loginAndToken(ctx, { login: 'unverified-bob', client: clientA });
    const unvClaims = (await verify(unv.tokens.id_token, clientA)).payload;
    check('unverified-bob: email_verified = false', unvClaims.email_verified === false, String(unvClaims.email_verified));
    check('unverified-bob: email, name, no groups claim', unvClaims.email === 'unverified-bob@example.com' && unvClaims.name === 'Unverified Bob' && !('groups' in unvClaims), JSON.stringify(unvClaims));
    const carol = (await verify((await loginAndToken(ctx, { login: 'carol.jones@corp.test#ops', client: clientA })).tokens.id_token, clientA)).payload;
    check('login with @ is the email; name from local part; groups ["ops"]', carol.email === 'carol.jones@corp.test' && carol.sub === 'carol.jones@corp.test#ops' && carol.name === 'Carol Jones' && JSON.stringify(carol.groups) === '["ops"]', JSON.stringify(carol));
    const empty = (await verify((await loginAndToken(ctx, { login: 'frank#', client: clientA })).tokens.id_token, clientA)).payload;
    check('login frank# gives groups []', JSON.stringify(empty.groups) === '[]', JSON.stringify(empty.groups));

    // --- one-shot overrides
    const oneShot = async (name, overrides, assertTampered) => {
      const set = await control(ctx, 'POST', '/next-id-token', overrides);
      if (set.status !== 200) { check(`${name}: POST /control/next-id-token -> 200`, false, JSON.stringify(set)); return; }
      const first = await loginAndToken(ctx, { login: 'alice#gh-admins', client: clientA });
      let result;
      try {
        result = await assertTampered(first.tokens.id_token, first);
      } catch (err) {
        result = `threw ${err.message}`;
      }
      check(`${name}: takes effect on the next id_token`, result === true, String(result));
      const second = await loginAndToken(ctx, { login: 'alice#gh-admins', client: clientA });
      const err = await expectReject(verify(second.tokens.id_token, clientA).then(({ payload }) => {
        if (payload.nonce !== second.nonce) throw new Error(`nonce ${payload.nonce}`);
      }));
      check(`${name}: the id_token after that is normal again`, err === null, err?.message);
    };
    await oneShot('nonce', { nonce: 'wrong' }, async (jwt) => {
      const { payload } = await verify(jwt, clientA);
      return payload.nonce === 'wrong' || `nonce ${payload.nonce}`;
    });
    await oneShot('iss', { iss: 'http://evil.example' }, async (jwt) => {
      const err = await expectReject(verify(jwt, clientA));
      const { payload } = await verify(jwt, clientA, { issuer: 'http://evil.example' }); // signature still valid
      return (err?.code === 'ERR_JWT_CLAIM_VALIDATION_FAILED' && err.claim === 'iss' && payload.iss === 'http://evil.example') || `err ${err?.code} ${err?.claim}`;
    });
    await oneShot('aud', { aud: 'someone-else' }, async (jwt) => {
      const err = await expectReject(verify(jwt, clientA));
      const { payload } = await verify(jwt, clientA, { audience: 'someone-else' });
      return (err?.claim === 'aud' && payload.aud === 'someone-else') || `err ${err?.code} ${err?.claim}`;
    });
    const past = Math.floor(Date.now() / 1000) - 3600;
    await oneShot('exp', { exp: past }, async (jwt) => {
      const err = await expectReject(verify(jwt, clientA));
      return (err?.code === 'ERR_JWT_EXPIRED' && jose.decodeJwt(jwt).exp === past) || `err ${err?.code}`;
    });
    await oneShot('__sign_with_other_key', { __sign_with_other_key: true }, async (jwt) => {
      const err = await expectReject(verify(jwt, clientA));
      const realKid = jose.decodeProtectedHeader(alice.tokens.id_token).kid;
      return (err?.code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' && jose.decodeProtectedHeader(jwt).kid === realKid) || `err ${err?.code}`;
    });
    await oneShot('__unsigned (alg none)', { __unsigned: true }, async (jwt) => {
      const err = await expectReject(verify(jwt, clientA));
      return (jose.decodeProtectedHeader(jwt).alg === 'none' && jwt.endsWith('.') && err !== null) || `alg ${jose.decodeProtectedHeader(jwt).alg}`;
    });

    await oneShot('__header kid', { __header: { kid: 'unknown-kid' } }, async (jwt) => {
      const err = await expectReject(verify(jwt, clientA));
      return (err?.code === 'ERR_JWKS_NO_MATCHING_KEY' && jose.decodeProtectedHeader(jwt).kid === 'unknown-kid') || `err ${err?.code}`;
    });

    // --- an override scoped to one client leaves other clients alone
    await control(ctx, 'POST', `/next-id-token?client_id=${clientB.client_id}`, { nonce: 'for-b' });
    const aTok = await loginAndToken(ctx, { login: 'gina', client: clientA });
    const bTok = await loginAndToken(ctx, { login: 'gina', client: clientB });
    check('?client_id= override skips other clients and hits that one',
      jose.decodeJwt(aTok.tokens.id_token).nonce === aTok.nonce && (await verify(bTok.tokens.id_token, clientB)).payload.nonce === 'for-b');
    const pending = await control(ctx, 'GET', `/next-id-token?client_id=${clientB.client_id}`);
    check('GET /control/next-id-token shows nothing pending after use', pending.body.pending === null, JSON.stringify(pending.body));

    // --- cookies work over plain http
    const cookieLines = await (async () => {
      const r = await fetch(`${ctx.discovery.authorization_endpoint}?${new URLSearchParams({
        response_type: 'code', client_id: clientA.client_id, redirect_uri: clientA.redirect_uris[0], scope: 'openid', code_challenge: b64url(randomBytes(32)), code_challenge_method: 'S256',
      })}`, { redirect: 'manual' });
      return r.headers.getSetCookie();
    })();
    check('cookies are not Secure and are SameSite=Lax', cookieLines.length > 0 && cookieLines.every((l) => !/;\s*secure/iu.test(l) && /samesite=lax/iu.test(l)), cookieLines.join(' | '));

    check('stdout held exactly one line', p.stdout().split('\n').filter(Boolean).length === 1, JSON.stringify(p.stdout()));
  } finally {
    p.child.kill('SIGTERM');
    const ended = await exitWithin(p.child, 3000);
    check('SIGTERM: provider exits with code 0', ended?.code === 0, JSON.stringify(ended));
    if (failures) console.error(`--- provider stderr ---\n${p.stderr()}`);
  }

  // --- stdin closing ends the provider
  const q = startProvider();
  await q.ready;
  q.child.stdin.end();
  const ended = await exitWithin(q.child, 3000);
  check('stdin closed: provider exits with code 0', ended?.code === 0, JSON.stringify(ended));
  if (!ended) q.child.kill('SIGKILL');
}

try {
  await main();
} catch (err) {
  check('selftest ran to the end', false, err.stack);
}
console.log(`${passes} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
