// SAML 2.0 identity provider test peer for Gatehouse (see README.md).
//
//   node idp.mjs --port 0 [--entity-id URI]
//
// Listens on 127.0.0.1, prints one JSON line when ready:
//   {"base":"http://127.0.0.1:PORT","metadata":"http://127.0.0.1:PORT/metadata","entity_id":"..."}
// Exits on SIGTERM/SIGINT and when stdin (a pipe or socket) reaches EOF.
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { DOMParser } from '@xmldom/xmldom';
import samlify from 'samlify';

const { IdentityProvider, SamlLib } = samlify;

const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
};
const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

// ---------------------------------------------------------------- arguments
function parseArgs(argv) {
  const out = { port: 0, entityId: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') out.port = Number(argv[++i]);
    else if (a.startsWith('--port=')) out.port = Number(a.slice(7));
    else if (a === '--entity-id') out.entityId = argv[++i];
    else if (a.startsWith('--entity-id=')) out.entityId = a.slice(12);
    else { console.error(`unknown argument: ${a}`); process.exit(2); }
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    console.error('--port must be 0..65535'); process.exit(2);
  }
  return out;
}
const args = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------- keys
const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-saml-idp-'));
function makeKeyPair(name, cn) {
  const key = path.join(tmpDir, `${name}-key.pem`);
  const cert = path.join(tmpDir, `${name}-cert.pem`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '30',
    '-subj', `/CN=${cn}`, '-keyout', key, '-out', cert], { stdio: ['ignore', 'ignore', 'pipe'] });
  const certPem = fs.readFileSync(cert, 'utf8');
  return {
    keyPem: fs.readFileSync(key, 'utf8'),
    certPem,
    certB64: certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''),
    keyPath: key,
    certPath: cert,
  };
}
const mainKey = makeKeyPair('idp', 'Gatehouse Test IdP');
const otherKey = makeKeyPair('other', 'Unrelated Forger');

let cleanedUp = false;
function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  try { fs.rmSync(tmpDir, { recursive: true, force: true }); } catch { /* ignore */ }
}

// ---------------------------------------------------------------- state
const sps = new Map(); // entity_id -> { entity_id, acs_url }
let nextFlags = {}; // applied once to the next response, then cleared
let lastResponseXml = null;
let base = '';
let entityId = '';

const KNOWN_FLAGS = new Set(['unsigned', 'sign_with_other_key', 'audience', 'recipient', 'destination',
  'expired', 'not_before_future_secs', 'in_response_to', 'sha1', 'wrapping', 'omit_email', 'sign', 'status',
  'no_audience', 'omit_name_id', 'doctype']);

// ---------------------------------------------------------------- helpers
const newId = () => '_' + crypto.randomBytes(20).toString('hex');
const isoTime = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  .replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** `alice#gh-admins+staff` -> { email: alice@example.com, name: Alice, groups: [gh-admins, staff] } */
export function parseUsername(raw, extraGroups) {
  const s = String(raw || '').trim();
  const hash = s.indexOf('#');
  const user = (hash >= 0 ? s.slice(0, hash) : s).trim();
  const groupPart = hash >= 0 ? s.slice(hash + 1) : '';
  // '+' may arrive as ' ' when a client forgot to percent-encode it; accept ',' too.
  const groups = groupPart.split(/[+ ,]/).filter(Boolean);
  if (extraGroups) groups.push(...String(extraGroups).split(/[+ ,]/).filter(Boolean));
  if (!user) return null;
  const email = user.includes('@') ? user : `${user}@example.com`;
  const local = email.split('@')[0];
  const name = local.split(/[._-]+/).filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1)).join(' ');
  return { email, name, groups: [...new Set(groups)] };
}

function attributeXml(name, values) {
  const vals = values.map((v) => `<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" `
    + `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('');
  return `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">${vals}</saml:Attribute>`;
}

/** An unsigned <saml:Assertion> with its own namespace declaration (self-contained). */
function assertionXml(o) {
  const irt = o.inResponseTo != null ? ` InResponseTo="${esc(o.inResponseTo)}"` : '';
  const nameId = o.omitNameId ? ''
    : o.omitEmail === true
      ? `<saml:NameID Format="${NAMEID_PERSISTENT}">${esc(o.persistentId)}</saml:NameID>`
      : `<saml:NameID Format="${NAMEID_EMAIL}">${esc(o.user.email)}</saml:NameID>`;
  const attrs = [];
  if (!o.omitEmail) attrs.push(attributeXml('email', [o.user.email]));
  attrs.push(attributeXml('name', [o.user.name]));
  if (o.user.groups.length) attrs.push(attributeXml('groups', o.user.groups));
  return `<saml:Assertion xmlns:saml="${NS.assertion}" ID="${o.id}" Version="2.0" IssueInstant="${o.issueInstant}">`
    + `<saml:Issuer>${esc(o.issuer)}</saml:Issuer>`
    + `<saml:Subject>${nameId}`
    + `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">`
    + `<saml:SubjectConfirmationData NotOnOrAfter="${o.notOnOrAfter}" Recipient="${esc(o.recipient)}"${irt}/>`
    + `</saml:SubjectConfirmation></saml:Subject>`
    + `<saml:Conditions NotBefore="${o.notBefore}" NotOnOrAfter="${o.notOnOrAfter}">`
    + (o.audience === null ? '' : `<saml:AudienceRestriction><saml:Audience>${esc(o.audience)}</saml:Audience></saml:AudienceRestriction>`)
    + `</saml:Conditions>`
    + (o.advice ? `<saml:Advice>${o.advice}</saml:Advice>` : '')
    + `<saml:AuthnStatement AuthnInstant="${o.issueInstant}" SessionIndex="${o.sessionIndex}">`
    + `<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>`
    + `</saml:AuthnStatement>`
    + `<saml:AttributeStatement>${attrs.join('')}</saml:AttributeStatement>`
    + `</saml:Assertion>`;
}

function sign(xml, rootLocalName, keyPair, sigAlg) {
  return SamlLib.constructSAMLSignature({
    rawSamlMessage: xml,
    isMessageSigned: true, // reference the root element (URI="#<its ID>")
    privateKey: keyPair.keyPem,
    signingCert: keyPair.certB64,
    signatureAlgorithm: sigAlg,
    signatureConfig: {
      prefix: 'ds',
      location: { reference: `/*[local-name(.)='${rootLocalName}']/*[local-name(.)='Issuer']`, action: 'after' },
    },
    isBase64Output: false,
  });
}

/**
 * Build the SAMLResponse XML for `sp`/`user`; `flags` are the one-shot negative-test flags.
 * inResponseTo: the AuthnRequest ID, or null for IdP-initiated.
 */
function buildResponse({ sp, acsUrl, user, inResponseTo, flags }) {
  const now = Date.now();
  let notBefore = now - 60_000;
  let notOnOrAfter = now + 300_000;
  if (flags.expired) { notBefore = now - 600_000; notOnOrAfter = now - 300_000; }
  if (flags.not_before_future_secs) {
    notBefore = now + Number(flags.not_before_future_secs) * 1000;
    notOnOrAfter = notBefore + 300_000;
  }
  const irt = Object.prototype.hasOwnProperty.call(flags, 'in_response_to') ? flags.in_response_to : inResponseTo;
  const sigAlg = flags.sha1 ? RSA_SHA1 : RSA_SHA256;
  const keyPair = flags.sign_with_other_key ? otherKey : mainKey;
  let signMode = flags.sign || 'both'; // both | assertion | response | none
  if (flags.unsigned) signMode = 'none';
  const wrapping = flags.wrapping === true ? 'before' : flags.wrapping || null;
  if (wrapping && !['before', 'after', 'advice'].includes(wrapping)) throw new Error(`bad wrapping layout ${wrapping}`);
  if (wrapping) signMode = 'assertion'; // an attacker cannot re-sign the modified Response
  if (!['both', 'assertion', 'response', 'none'].includes(signMode)) throw new Error(`bad sign mode ${signMode}`);

  const common = {
    issuer: entityId,
    issueInstant: isoTime(now),
    notBefore: isoTime(notBefore),
    notOnOrAfter: isoTime(notOnOrAfter),
    audience: flags.no_audience ? null : flags.audience ?? sp.entity_id,
    omitNameId: flags.omit_name_id === true,
    recipient: flags.recipient ?? acsUrl,
    inResponseTo: irt,
    sessionIndex: newId(),
  };
  const assertionId = newId();
  let assertion = assertionXml({
    ...common, id: assertionId, user, omitEmail: flags.omit_email === 'attribute' ? 'attribute' : flags.omit_email === true,
    persistentId: crypto.createHash('sha256').update(user.email).digest('hex').slice(0, 32),
  });
  if (signMode === 'both' || signMode === 'assertion') assertion = sign(assertion, 'Assertion', keyPair, sigAlg);

  let assertions = assertion;
  if (wrapping) {
    const mallory = { email: 'mallory@example.com', name: 'Mallory', groups: user.groups };
    const evil = (advice) => assertionXml({ ...common, id: newId(), user: mallory, advice });
    if (wrapping === 'before') assertions = evil() + assertion;
    else if (wrapping === 'after') assertions = assertion + evil();
    else assertions = evil(assertion); // signed original nested in the evil assertion's <Advice>
  }

  const statusCode = flags.status || STATUS_SUCCESS;
  const responseIrt = irt != null ? ` InResponseTo="${esc(irt)}"` : '';
  let response = `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${newId()}" Version="2.0" `
    + `IssueInstant="${common.issueInstant}" Destination="${esc(flags.destination ?? acsUrl)}"${responseIrt}>`
    + `<saml:Issuer>${esc(entityId)}</saml:Issuer>`
    + `<samlp:Status><samlp:StatusCode Value="${esc(statusCode)}"/></samlp:Status>`
    + (statusCode === STATUS_SUCCESS ? assertions : '')
    + `</samlp:Response>`;
  if (signMode === 'both' || signMode === 'response') response = sign(response, 'Response', keyPair, sigAlg);
  // An internal DTD subset does not change what the signature covers: a parser that accepts it
  // still finds the signature intact.
  const doctype = flags.doctype ? `<!DOCTYPE samlp:Response [<!ENTITY x "${'x'.repeat(8)}">]>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>` + doctype + response;
}

// ---------------------------------------------------------------- AuthnRequest decoding
function decodeAuthnRequest(b64, deflated) {
  const raw = Buffer.from(String(b64).replace(/ /g, '+'), 'base64');
  let xml;
  if (deflated) {
    try { xml = zlib.inflateRawSync(raw).toString('utf8'); } catch { xml = raw.toString('utf8'); }
  } else {
    xml = raw.toString('utf8');
    if (!xml.trimStart().startsWith('<')) xml = zlib.inflateRawSync(raw).toString('utf8');
  }
  const errors = [];
  const doc = new DOMParser({ errorHandler: { warning() {}, error: (e) => errors.push(e), fatalError: (e) => errors.push(e) } })
    .parseFromString(xml, 'text/xml');
  const root = doc && doc.documentElement;
  if (!root || errors.length || root.localName !== 'AuthnRequest' || root.namespaceURI !== NS.protocol) {
    throw new Error(`SAMLRequest is not a samlp:AuthnRequest ${errors.join('; ')}`);
  }
  const issuerEl = Array.from(root.childNodes).find((n) => n.localName === 'Issuer' && n.namespaceURI === NS.assertion);
  return {
    xml,
    id: root.getAttribute('ID'),
    issuer: issuerEl ? issuerEl.textContent.trim() : null,
    acsUrl: root.getAttribute('AssertionConsumerServiceURL') || null,
    protocolBinding: root.getAttribute('ProtocolBinding') || null,
  };
}

// ---------------------------------------------------------------- HTML pages
function page(title, body) {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
    + `<body>\n${body}\n</body></html>\n`;
}

function loginPage({ samlRequest, relayState, autosubmit, error }) {
  const hidden = (n, v) => (v == null ? '' : `<input type="hidden" name="${n}" value="${esc(v)}">\n`);
  return page('Gatehouse test IdP - sign in', `<h1>Gatehouse test IdP</h1>\n`
    + (error ? `<p id="error" role="alert">${esc(error)}</p>\n` : '')
    + `<p>Username: <code>alice</code>, <code>alice#gh-admins+staff</code> (groups after #, joined by +) or a full email.</p>\n`
    + `<form id="login" method="post" action="/login">\n`
    + hidden('SAMLRequest', samlRequest) + hidden('RelayState', relayState) + hidden('autosubmit', autosubmit)
    + `<label for="username">Username</label> <input id="username" name="username" type="text" autocomplete="username" autofocus required>\n`
    + `<label for="password">Password (ignored)</label> <input id="password" name="password" type="password">\n`
    + `<button id="sign-in" type="submit">Sign in</button>\n</form>`);
}

function postPage({ acsUrl, samlResponseB64, relayState, autosubmit }) {
  return page('Gatehouse test IdP - continue to service provider', `<form id="saml-post" method="post" action="${esc(acsUrl)}">\n`
    + `<input type="hidden" name="SAMLResponse" value="${samlResponseB64}">\n`
    + (relayState != null ? `<input type="hidden" name="RelayState" value="${esc(relayState)}">\n` : '')
    + `<button id="continue" type="submit">Continue</button>\n</form>\n`
    + (autosubmit ? `<script>document.getElementById('saml-post').submit();</script>` : ''));
}

// ---------------------------------------------------------------- HTTP
class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function send(res, status, body, type = 'text/plain; charset=utf-8') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
const sendJson = (res, status, obj) => send(res, status, JSON.stringify(obj) + '\n', 'application/json');

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 2 * 1024 * 1024) { reject(new HttpError(413, 'body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
async function readJson(req) {
  const text = await readBody(req);
  try { return text.trim() ? JSON.parse(text) : {}; } catch { throw new HttpError(400, 'body is not JSON'); }
}
async function readForm(req) {
  return Object.fromEntries(new URLSearchParams(await readBody(req)));
}

function respondToSp({ res, sp, acsUrl, username, groups, inResponseTo, relayState, autosubmit }) {
  const user = parseUsername(username, groups);
  if (!user) throw new HttpError(400, 'username is required');
  const flags = nextFlags;
  nextFlags = {};
  const xml = buildResponse({ sp, acsUrl, user, inResponseTo, flags });
  lastResponseXml = xml;
  send(res, 200, postPage({ acsUrl, samlResponseB64: Buffer.from(xml, 'utf8').toString('base64'), relayState, autosubmit }),
    'text/html; charset=utf-8');
}

function spForRequest(request) {
  if (!request.issuer) throw new HttpError(400, 'AuthnRequest has no Issuer');
  const sp = sps.get(request.issuer);
  if (!sp) throw new HttpError(400, `unknown SP ${request.issuer}: register it with POST /control/sp first`);
  if (request.acsUrl && request.acsUrl !== sp.acs_url) {
    throw new HttpError(400, `AssertionConsumerServiceURL ${request.acsUrl} differs from the registered ${sp.acs_url}`);
  }
  if (request.protocolBinding && request.protocolBinding !== BINDING_POST) {
    throw new HttpError(400, `unsupported ProtocolBinding ${request.protocolBinding} (only HTTP-POST)`);
  }
  return sp;
}

const wantAutosubmit = (v) => !(v === '0' || v === 'false' || v === 'no');

async function handle(req, res) {
  const url = new URL(req.url, base);
  const q = url.searchParams;
  const route = `${req.method} ${url.pathname}`;

  if (route === 'GET /metadata') {
    const noCert = q.get('no_cert') === '1' || q.get('no_cert') === 'true';
    const idp = IdentityProvider({
      entityID: entityId,
      ...(noCert ? {} : { signingCert: mainKey.certPem }),
      wantAuthnRequestsSigned: false,
      nameIDFormat: [NAMEID_EMAIL],
      singleSignOnService: [
        { Binding: BINDING_REDIRECT, Location: `${base}/sso` },
        { Binding: BINDING_POST, Location: `${base}/sso` },
      ],
      singleLogoutService: [{ Binding: BINDING_REDIRECT, Location: `${base}/slo` }],
    });
    return send(res, 200, idp.getMetadata(), 'application/samlmetadata+xml');
  }

  if (route === 'GET /sso' || route === 'POST /sso') {
    const params = req.method === 'GET' ? Object.fromEntries(q) : { ...Object.fromEntries(q), ...(await readForm(req)) };
    if (!params.SAMLRequest) throw new HttpError(400, 'SAMLRequest is required');
    let request;
    try { request = decodeAuthnRequest(params.SAMLRequest, req.method === 'GET'); } catch (e) { throw new HttpError(400, e.message); }
    const sp = spForRequest(request);
    const autosubmit = wantAutosubmit(params.autosubmit);
    if (params.username) {
      return respondToSp({ res, sp, acsUrl: sp.acs_url, username: params.username, groups: params.groups,
        inResponseTo: request.id, relayState: params.RelayState, autosubmit });
    }
    // No user yet: show the login form; it posts the raw (uninflated) request to /login.
    const rawXmlB64 = Buffer.from(request.xml, 'utf8').toString('base64');
    return send(res, 200, loginPage({ samlRequest: rawXmlB64, relayState: params.RelayState,
      autosubmit: autosubmit ? null : '0' }), 'text/html; charset=utf-8');
  }

  if (route === 'POST /login') {
    const form = await readForm(req);
    if (!form.SAMLRequest) throw new HttpError(400, 'SAMLRequest is required');
    let request;
    try { request = decodeAuthnRequest(form.SAMLRequest, false); } catch (e) { throw new HttpError(400, e.message); }
    const sp = spForRequest(request);
    if (!parseUsername(form.username)) {
      return send(res, 400, loginPage({ samlRequest: form.SAMLRequest, relayState: form.RelayState,
        autosubmit: form.autosubmit, error: 'username is required' }), 'text/html; charset=utf-8');
    }
    return respondToSp({ res, sp, acsUrl: sp.acs_url, username: form.username, groups: form.groups,
      inResponseTo: request.id, relayState: form.RelayState, autosubmit: wantAutosubmit(form.autosubmit) });
  }

  if (route === 'GET /idp-initiated') {
    const sp = sps.get(q.get('sp') || '');
    if (!sp) throw new HttpError(400, `unknown SP ${q.get('sp')}: register it with POST /control/sp first`);
    return respondToSp({ res, sp, acsUrl: sp.acs_url, username: q.get('username'), groups: q.get('groups'),
      inResponseTo: null, relayState: q.get('RelayState'), autosubmit: wantAutosubmit(q.get('autosubmit')) });
  }

  if (route === 'POST /control/sp') {
    const body = await readJson(req);
    if (typeof body.entity_id !== 'string' || !body.entity_id || typeof body.acs_url !== 'string' || !body.acs_url) {
      throw new HttpError(400, 'need {"entity_id": "...", "acs_url": "..."}');
    }
    sps.set(body.entity_id, { entity_id: body.entity_id, acs_url: body.acs_url });
    return sendJson(res, 200, { ok: true, sp: sps.get(body.entity_id) });
  }
  if (route === 'GET /control/sp') return sendJson(res, 200, [...sps.values()]);

  if (route === 'POST /control/next-response') {
    const body = await readJson(req);
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'need a JSON object');
    const unknown = Object.keys(body).filter((k) => !KNOWN_FLAGS.has(k));
    if (unknown.length) throw new HttpError(400, `unknown flags: ${unknown.join(', ')}`);
    nextFlags = { ...nextFlags, ...body };
    return sendJson(res, 200, { ok: true, next_response: nextFlags });
  }
  if (route === 'GET /control/next-response') return sendJson(res, 200, nextFlags);
  if (route === 'DELETE /control/next-response') { nextFlags = {}; return sendJson(res, 200, { ok: true }); }

  if (route === 'GET /control/last-response') {
    if (!lastResponseXml) throw new HttpError(404, 'no response yet');
    return send(res, 200, lastResponseXml, 'application/xml; charset=utf-8');
  }

  if (route === 'GET /control/cert') {
    return sendJson(res, 200, { cert_pem: mainKey.certPem, other_cert_pem: otherKey.certPem,
      cert_path: mainKey.certPath, other_cert_path: otherKey.certPath });
  }

  if (route === 'POST /control/reset') {
    sps.clear(); nextFlags = {}; lastResponseXml = null;
    return sendJson(res, 200, { ok: true });
  }

  throw new HttpError(404, `no route ${route}`);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    const status = e instanceof HttpError ? e.status : 500;
    if (status === 500) console.error(e);
    if (!res.headersSent) send(res, status, `${e.message}\n`);
    else res.end();
  });
});
server.keepAliveTimeout = 1000;

function shutdown() {
  cleanup();
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.on('exit', cleanup);

// Exit when stdin reaches EOF, but only if stdin is a pipe/socket (a harness holding it open);
// with stdin=/dev/null or a terminal we rely on signals.
try {
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('end', shutdown);
    process.stdin.on('close', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }
} catch { /* no stdin at all */ }

server.listen(args.port, '127.0.0.1', () => {
  const { port } = server.address();
  base = `http://127.0.0.1:${port}`;
  entityId = args.entityId || `${base}/metadata`;
  process.stdout.write(JSON.stringify({ base, metadata: `${base}/metadata`, entity_id: entityId }) + '\n');
});
