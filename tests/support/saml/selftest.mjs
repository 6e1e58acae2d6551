// Self-test of the SAML IdP test peer: node selftest.mjs  (exit 0 = all checks passed)
//
// Starts idp.mjs, registers an SP, builds AuthnRequests with samlify's SP side, completes the
// flows as a plain HTTP client (no browser), verifies signatures with the xmlsec1 CLI against the
// IdP certificate, and checks that every negative-test flag shows up in the XML as intended.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DOMParser } from '@xmldom/xmldom';
import samlify from 'samlify';
import * as xmllintValidator from '@authenio/samlify-node-xmllint';

const here = path.dirname(fileURLToPath(import.meta.url));
const NS_P = 'urn:oasis:names:tc:SAML:2.0:protocol';
const NS_A = 'urn:oasis:names:tc:SAML:2.0:assertion';
const NS_DS = 'http://www.w3.org/2000/09/xmldsig#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';
const SHA1 = 'http://www.w3.org/2000/09/xmldsig#sha1';

let failures = 0;
let passes = 0;
function check(cond, what) {
  if (cond) { passes++; console.log(`  ok   ${what}`); } else { failures++; console.log(`  FAIL ${what}`); }
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'saml-selftest-'));

function startIdp() {
  const child = spawn(process.execPath, [path.join(here, 'idp.mjs'), '--port', '0'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('idp did not print its ready line in 20 s')), 20000);
    const rl = readline.createInterface({ input: child.stdout });
    rl.once('line', (line) => { clearTimeout(timer); resolve({ child, info: JSON.parse(line) }); });
    child.once('exit', (code) => reject(new Error(`idp exited early with ${code}`)));
  });
}
const waitExit = (child, ms) => new Promise((resolve) => {
  if (child.exitCode !== null || child.signalCode !== null) return resolve(true);
  const t = setTimeout(() => resolve(false), ms);
  child.once('exit', () => { clearTimeout(t); resolve(true); });
});

async function http(method, url, { json, form } = {}) {
  const init = { method, redirect: 'manual', headers: {} };
  if (json !== undefined) { init.body = JSON.stringify(json); init.headers['content-type'] = 'application/json'; }
  if (form !== undefined) { init.body = new URLSearchParams(form).toString(); init.headers['content-type'] = 'application/x-www-form-urlencoded'; }
  const res = await fetch(url, init);
  return { status: res.status, text: await res.text() };
}

/** Reads <input name=... value=...> pairs and the form action from an HTML page, as a plain client would. */
function formFields(html) {
  const fields = {};
  for (const m of html.matchAll(/<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"/g)) {
    fields[m[1]] = m[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  }
  const action = (html.match(/<form[^>]*\baction="([^"]*)"/) || [])[1];
  return { fields, action: action && action.replace(/&amp;/g, '&') };
}

const parse = (xml) => new DOMParser().parseFromString(xml, 'text/xml');
const els = (node, ns, name) => Array.from(node.getElementsByTagNameNS(ns, name));
const children = (node, ns, name) => Array.from(node.childNodes).filter((n) => n.namespaceURI === ns && n.localName === name);

function xmlsecVerify(xml, certPath, signatureXPath) {
  const file = path.join(work, `verify-${Date.now()}-${Math.random().toString(16).slice(2)}.xml`);
  fs.writeFileSync(file, xml);
  const r = spawnSync('xmlsec1', ['--verify', '--enabled-key-data', 'key-name', '--pubkey-cert-pem', certPath,
    '--id-attr:ID', `${NS_P}:Response`, '--id-attr:ID', `${NS_A}:Assertion`,
    '--node-xpath', signatureXPath, file], { encoding: 'utf8' });
  fs.unlinkSync(file);
  if (r.error) throw r.error;
  return r.status === 0;
}
const RESPONSE_SIG = "/*[local-name()='Response']/*[local-name()='Signature']";
const ASSERTION_SIG = "//*[local-name()='Assertion']/*[local-name()='Signature']";

async function main() {
  const which = spawnSync('xmlsec1', ['--version'], { encoding: 'utf8' });
  if (which.status !== 0) throw new Error('xmlsec1 not found: apt-get install -y --no-install-recommends xmlsec1');
  console.log(`xmlsec1: ${which.stdout.trim()}`);

  const { child, info } = await startIdp();
  console.log(`idp ready: ${JSON.stringify(info)}`);
  try {
    await run(info);
  } finally {
    child.stdin.end(); // closing stdin must stop the IdP
    const exited = await waitExit(child, 5000);
    check(exited, 'idp exits when its stdin closes');
    if (!exited) child.kill('SIGKILL');
  }
  // SIGTERM path, with a second instance
  const second = await startIdp();
  second.child.kill('SIGTERM');
  check(await waitExit(second.child, 5000), 'idp exits on SIGTERM');
}

async function run(info) {
  const { base } = info;
  check(/^http:\/\/127\.0\.0\.1:\d+$/.test(base) && info.metadata === `${base}/metadata` && typeof info.entity_id === 'string',
    'ready line has base, metadata, entity_id');

  const certs = JSON.parse((await http('GET', `${base}/control/cert`)).text);
  const certPath = path.join(work, 'idp-cert.pem');
  const otherCertPath = path.join(work, 'other-cert.pem');
  fs.writeFileSync(certPath, certs.cert_pem);
  fs.writeFileSync(otherCertPath, certs.other_cert_pem);
  const certB64 = certs.cert_pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

  // ---- metadata
  const md = await http('GET', `${base}/metadata`);
  const mdDoc = parse(md.text);
  check(md.status === 200 && mdDoc.documentElement.getAttribute('entityID') === info.entity_id, 'metadata entityID = entity_id');
  const mdCerts = els(mdDoc, NS_DS, 'X509Certificate').map((e) => e.textContent.replace(/\s+/g, ''));
  check(mdCerts.length === 1 && mdCerts[0] === certB64, 'metadata carries the signing certificate');
  check(els(mdDoc, 'urn:oasis:names:tc:SAML:2.0:metadata', 'SingleSignOnService').some((e) => e.getAttribute('Location') === `${base}/sso`),
    'metadata SingleSignOnService -> /sso');
  const mdNoCert = await http('GET', `${base}/metadata?no_cert=1`);
  check(mdNoCert.status === 200 && !/X509Certificate|KeyDescriptor/.test(mdNoCert.text) && /IDPSSODescriptor/.test(mdNoCert.text),
    'metadata?no_cert=1 has no KeyDescriptor/certificate');

  // ---- SP registration + samlify SP side
  const spEntity = 'http://127.0.0.1:9/saml/metadata';
  const acs = 'http://127.0.0.1:9/saml/acs';
  const reg = await http('POST', `${base}/control/sp`, { json: { entity_id: spEntity, acs_url: acs } });
  check(reg.status === 200, 'POST /control/sp registers the SP');
  samlify.setSchemaValidator(xmllintValidator);
  const idpEntity = samlify.IdentityProvider({ metadata: md.text });
  const sp = samlify.ServiceProvider({
    entityID: spEntity,
    authnRequestsSigned: false,
    wantAssertionsSigned: true,
    assertionConsumerService: [{ Binding: samlify.Constants.namespace.binding.post, Location: acs }],
    relayState: '/after/login?x=1&y=2',
  });

  const newRequest = () => sp.createLoginRequest(idpEntity, 'redirect'); // { id, context: redirect URL }

  // One SP-initiated flow as a plain HTTP client; username via query param (fast path).
  async function spFlow(username, flags) {
    if (flags) {
      const r = await http('POST', `${base}/control/next-response`, { json: flags });
      if (r.status !== 200) throw new Error(`next-response ${JSON.stringify(flags)}: ${r.status} ${r.text}`);
    }
    const { id, context } = newRequest();
    const page = await http('GET', `${context}&username=${encodeURIComponent(username)}`);
    if (page.status !== 200) throw new Error(`GET /sso: ${page.status} ${page.text}`);
    const { fields, action } = formFields(page.text);
    const xml = Buffer.from(fields.SAMLResponse, 'base64').toString('utf8');
    return { id, xml, doc: parse(xml), fields, action, html: page.text };
  }

  // ---- normal SP-initiated flow through the login form
  console.log('normal SP-initiated flow (login form)');
  const { id: reqId, context } = newRequest();
  check(context.startsWith(`${base}/sso?SAMLRequest=`), 'AuthnRequest redirect URL points at /sso');
  const login = await http('GET', context);
  const loginForm = formFields(login.text);
  check(login.status === 200 && loginForm.action === '/login' && /name="username"/.test(login.text) && loginForm.fields.SAMLRequest,
    'GET /sso without username shows a login form (field "username")');
  const posted = await http('POST', `${base}${loginForm.action}`, { form: { ...loginForm.fields, username: 'alice#gh-admins+staff' } });
  const { fields, action } = formFields(posted.text);
  check(posted.status === 200 && action === acs, 'response page form posts to the ACS URL');
  check(/<script>document\.getElementById\('saml-post'\)\.submit\(\);<\/script>/.test(posted.text) && /<button[^>]*type="submit"/.test(posted.text),
    'response page auto-submits and has a visible submit button');
  check(fields.RelayState === '/after/login?x=1&y=2', 'RelayState passed through');
  const xml = Buffer.from(fields.SAMLResponse, 'base64').toString('utf8');
  const last = await http('GET', `${base}/control/last-response`);
  check(last.status === 200 && last.text === xml, 'GET /control/last-response returns the same XML');
  const doc = parse(xml);
  const resp = doc.documentElement;
  const assertions = els(doc, NS_A, 'Assertion');
  const a = assertions[0];
  check(resp.localName === 'Response' && resp.getAttribute('Destination') === acs, 'Destination = ACS URL');
  check(resp.getAttribute('InResponseTo') === reqId, 'Response InResponseTo = AuthnRequest ID');
  check(assertions.length === 1, 'one assertion');
  check(els(a, NS_A, 'NameID')[0].textContent === 'alice@example.com'
    && els(a, NS_A, 'NameID')[0].getAttribute('Format') === 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', 'NameID = alice@example.com (emailAddress)');
  const attrs = Object.fromEntries(els(a, NS_A, 'Attribute').map((e) => [e.getAttribute('Name'), els(e, NS_A, 'AttributeValue').map((v) => v.textContent)]));
  check(JSON.stringify(attrs) === JSON.stringify({ email: ['alice@example.com'], name: ['Alice'], groups: ['gh-admins', 'staff'] }),
    `attributes email/name/groups: ${JSON.stringify(attrs)}`);
  check(els(a, NS_A, 'AuthnStatement').length === 1 && els(a, NS_A, 'AuthnContextClassRef').length === 1, 'AuthnStatement present');
  const cond = els(a, NS_A, 'Conditions')[0];
  const now = Date.now();
  const nb = Date.parse(cond.getAttribute('NotBefore'));
  const noa = Date.parse(cond.getAttribute('NotOnOrAfter'));
  check(Math.abs(nb - (now - 60000)) < 15000 && Math.abs(noa - (now + 300000)) < 15000, 'Conditions NotBefore=now-1min, NotOnOrAfter=now+5min');
  check(els(a, NS_A, 'Audience')[0].textContent === spEntity, 'AudienceRestriction = SP entity id');
  const scd = els(a, NS_A, 'SubjectConfirmationData')[0];
  check(scd.getAttribute('Recipient') === acs && scd.getAttribute('InResponseTo') === reqId, 'SubjectConfirmationData Recipient=ACS, InResponseTo=request id');
  check(els(doc, NS_DS, 'SignatureMethod').every((e) => e.getAttribute('Algorithm') === RSA_SHA256)
    && els(doc, NS_DS, 'DigestMethod').every((e) => e.getAttribute('Algorithm') === SHA256) && els(doc, NS_DS, 'Signature').length === 2,
    'two signatures, RSA-SHA256 + SHA-256 digest');
  check(children(resp, NS_DS, 'Signature').length === 1 && children(a, NS_DS, 'Signature').length === 1, 'Response and Assertion each signed');
  check(xmlsecVerify(xml, certPath, RESPONSE_SIG), 'xmlsec1: Response signature valid with IdP cert');
  check(xmlsecVerify(xml, certPath, ASSERTION_SIG), 'xmlsec1: Assertion signature valid with IdP cert');
  check(!xmlsecVerify(xml, otherCertPath, ASSERTION_SIG), 'xmlsec1: Assertion signature NOT valid with the unrelated cert');
  const tampered = xml.replace('alice@example.com</saml:NameID>', 'mallory@example.com</saml:NameID>');
  check(tampered !== xml && !xmlsecVerify(tampered, certPath, ASSERTION_SIG), 'xmlsec1: tampered NameID fails verification');
  try {
    const { extract } = await sp.parseLoginResponse(idpEntity, 'post', { body: { SAMLResponse: fields.SAMLResponse } });
    check(extract.nameID === 'alice@example.com' && extract.response.inResponseTo === reqId,
      'samlify SP (XSD validation via xmllint + signature + time) accepts the response');
  } catch (e) {
    check(false, `samlify SP accepts the response: ${e && (e.message || e)}`);
  }

  // ---- query-param fast path + username parsing
  console.log('SP-initiated flow with ?username=');
  const plain = await spFlow('bob');
  const plainAttrs = els(plain.doc, NS_A, 'Attribute').map((e) => e.getAttribute('Name'));
  check(els(plain.doc, NS_A, 'NameID')[0].textContent === 'bob@example.com' && !plainAttrs.includes('groups'),
    'username=bob -> bob@example.com, no groups attribute');
  check(xmlsecVerify(plain.xml, certPath, RESPONSE_SIG) && xmlsecVerify(plain.xml, certPath, ASSERTION_SIG), 'xmlsec1: both signatures valid');

  // ---- negative-test flags
  const sigCount = (d) => els(d, NS_DS, 'Signature').length;
  const flagCases = [
    [{ unsigned: true }, (r) => sigCount(r.doc) === 0 && !/Signature/.test(r.xml), 'unsigned: no Signature element at all'],
    [{ sign_with_other_key: true }, (r) => sigCount(r.doc) === 2
      && !xmlsecVerify(r.xml, certPath, RESPONSE_SIG) && !xmlsecVerify(r.xml, certPath, ASSERTION_SIG)
      && xmlsecVerify(r.xml, otherCertPath, RESPONSE_SIG) && xmlsecVerify(r.xml, otherCertPath, ASSERTION_SIG),
    'sign_with_other_key: fails with IdP cert, valid with the other cert'],
    [{ audience: 'http://wrong' }, (r) => els(r.doc, NS_A, 'Audience')[0].textContent === 'http://wrong'
      && xmlsecVerify(r.xml, certPath, ASSERTION_SIG), 'audience: Audience=http://wrong, still validly signed'],
    [{ recipient: 'http://wrong' }, (r) => els(r.doc, NS_A, 'SubjectConfirmationData')[0].getAttribute('Recipient') === 'http://wrong'
      && r.doc.documentElement.getAttribute('Destination') === acs && r.action === acs, 'recipient: Recipient=http://wrong (Destination and form action unchanged)'],
    [{ destination: 'http://wrong' }, (r) => r.doc.documentElement.getAttribute('Destination') === 'http://wrong' && r.action === acs
      && xmlsecVerify(r.xml, certPath, RESPONSE_SIG), 'destination: Destination=http://wrong, still posted to the ACS'],
    [{ expired: true }, (r) => Date.parse(els(r.doc, NS_A, 'Conditions')[0].getAttribute('NotOnOrAfter')) < Date.now()
      && Date.parse(els(r.doc, NS_A, 'SubjectConfirmationData')[0].getAttribute('NotOnOrAfter')) < Date.now()
      && xmlsecVerify(r.xml, certPath, ASSERTION_SIG), 'expired: Conditions and SubjectConfirmationData NotOnOrAfter in the past'],
    [{ not_before_future_secs: 600 }, (r) => Date.parse(els(r.doc, NS_A, 'Conditions')[0].getAttribute('NotBefore')) > Date.now() + 590000,
      'not_before_future_secs=600: NotBefore ~ now+10min'],
    [{ in_response_to: '_unknown' }, (r) => r.doc.documentElement.getAttribute('InResponseTo') === '_unknown'
      && els(r.doc, NS_A, 'SubjectConfirmationData')[0].getAttribute('InResponseTo') === '_unknown', 'in_response_to: both InResponseTo=_unknown'],
    [{ sha1: true }, (r) => sigCount(r.doc) === 2 && els(r.doc, NS_DS, 'SignatureMethod').every((e) => e.getAttribute('Algorithm') === RSA_SHA1)
      && els(r.doc, NS_DS, 'DigestMethod').every((e) => e.getAttribute('Algorithm') === SHA1)
      && xmlsecVerify(r.xml, certPath, RESPONSE_SIG) && xmlsecVerify(r.xml, certPath, ASSERTION_SIG), 'sha1: rsa-sha1 + sha1 digest, valid with IdP cert'],
    [{ wrapping: true }, (r) => {
      const as = els(r.doc, NS_A, 'Assertion');
      const first = as[0];
      return as.length === 2 && els(first, NS_A, 'NameID')[0].textContent === 'mallory@example.com' && children(first, NS_DS, 'Signature').length === 0
        && els(as[1], NS_A, 'NameID')[0].textContent === 'alice@example.com' && children(as[1], NS_DS, 'Signature').length === 1
        && children(r.doc.documentElement, NS_DS, 'Signature').length === 0 && xmlsecVerify(r.xml, certPath, ASSERTION_SIG);
    }, 'wrapping: unsigned mallory assertion first, original signed alice assertion (still valid) second, no Response signature'],
    [{ wrapping: 'after' }, (r) => {
      const as = els(r.doc, NS_A, 'Assertion');
      return as.length === 2 && children(as[0], NS_DS, 'Signature').length === 1 && els(as[1], NS_A, 'NameID')[0].textContent === 'mallory@example.com'
        && children(as[1], NS_DS, 'Signature').length === 0 && xmlsecVerify(r.xml, certPath, ASSERTION_SIG);
    }, 'wrapping=after: signed alice assertion first, unsigned mallory assertion second'],
    [{ wrapping: 'advice' }, (r) => {
      const top = children(r.doc.documentElement, NS_A, 'Assertion');
      const nested = top.length === 1 && els(top[0], NS_A, 'Advice').length === 1 ? children(els(top[0], NS_A, 'Advice')[0], NS_A, 'Assertion') : [];
      return top.length === 1 && children(els(top[0], NS_A, 'Subject')[0], NS_A, 'NameID')[0].textContent === 'mallory@example.com'
        && nested.length === 1 && children(nested[0], NS_DS, 'Signature').length === 1 && xmlsecVerify(r.xml, certPath, ASSERTION_SIG);
    }, 'wrapping=advice: mallory assertion with the signed original inside its <Advice>'],
    [{ omit_email: true }, (r) => !els(r.doc, NS_A, 'Attribute').some((e) => e.getAttribute('Name') === 'email')
      && !/@/.test(els(r.doc, NS_A, 'NameID')[0].textContent), 'omit_email: no email attribute, NameID is an opaque persistent id'],
    [{ omit_email: 'attribute' }, (r) => !els(r.doc, NS_A, 'Attribute').some((e) => e.getAttribute('Name') === 'email')
      && els(r.doc, NS_A, 'NameID')[0].textContent === 'alice@example.com', 'omit_email="attribute": no email attribute, NameID still the email'],
    [{ sign: 'assertion' }, (r) => children(r.doc.documentElement, NS_DS, 'Signature').length === 0 && sigCount(r.doc) === 1
      && xmlsecVerify(r.xml, certPath, ASSERTION_SIG), 'sign=assertion: only the assertion signed'],
    [{ sign: 'response' }, (r) => children(r.doc.documentElement, NS_DS, 'Signature').length === 1 && sigCount(r.doc) === 1
      && xmlsecVerify(r.xml, certPath, RESPONSE_SIG), 'sign=response: only the response signed'],
    [{ status: 'urn:oasis:names:tc:SAML:2.0:status:Responder' }, (r) => els(r.doc, NS_A, 'Assertion').length === 0
      && els(r.doc, NS_P, 'StatusCode')[0].getAttribute('Value').endsWith(':Responder'), 'status=Responder: no assertion'],
  ];
  console.log('negative-test flags (each applied to the next response only)');
  for (const [flags, ok, what] of flagCases) {
    const r = await spFlow('alice#gh-admins', flags);
    let good = false;
    try { good = ok(r); } catch (e) { console.log(`    (${e.message})`); }
    check(good, `${JSON.stringify(flags)} -> ${what}`);
  }
  const after = await spFlow('alice');
  check(sigCount(after.doc) === 2 && xmlsecVerify(after.xml, certPath, ASSERTION_SIG)
    && els(after.doc, NS_A, 'Audience')[0].textContent === spEntity && after.doc.documentElement.getAttribute('InResponseTo') === after.id,
  'flags are one-shot: the following response is normal again');
  const bad = await http('POST', `${base}/control/next-response`, { json: { no_such_flag: 1 } });
  check(bad.status === 400, 'unknown flag rejected with 400');

  // ---- IdP-initiated
  console.log('IdP-initiated');
  const unsolicited = await http('GET', `${base}/idp-initiated?username=${encodeURIComponent('carol#staff')}&sp=${encodeURIComponent(spEntity)}&RelayState=%2Fhome`);
  const uf = formFields(unsolicited.text);
  const uxml = Buffer.from(uf.fields.SAMLResponse, 'base64').toString('utf8');
  const udoc = parse(uxml);
  check(unsolicited.status === 200 && uf.action === acs && uf.fields.RelayState === '/home', 'form posts to ACS with RelayState');
  check(!/InResponseTo/.test(uxml), 'no InResponseTo anywhere');
  check(els(udoc, NS_A, 'NameID')[0].textContent === 'carol@example.com' && xmlsecVerify(uxml, certPath, RESPONSE_SIG)
    && xmlsecVerify(uxml, certPath, ASSERTION_SIG), 'carol@example.com, both signatures valid');

  // ---- errors
  const unknownSp = await http('GET', `${base}/idp-initiated?username=a&sp=http://nope`);
  check(unknownSp.status === 400, 'unknown SP -> 400');
}

main()
  .catch((e) => { failures++; console.log(`FAIL ${e.stack || e}`); })
  .finally(() => {
    fs.rmSync(work, { recursive: true, force: true });
    console.log(`${passes} passed, ${failures} failed`);
    process.exit(failures ? 1 : 0);
  });
