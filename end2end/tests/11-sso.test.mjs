// 11. Single sign-on against real peers: an OpenID Provider (oidc-provider), an OpenLDAP
// directory (slapd) and a SAML 2.0 IdP (samlify), all on loopback. An owner sets up the
// connections through the JSON API; other people then sign in with the browser alone, as they
// would at work:
//   1. OIDC: alice signs in at the provider and lands in the organization as an admin (group mapping).
//   2. LDAP: bob types a wrong password (the form says so), then the right one, and is a member.
//   3. A refused OIDC sign-in (an id_token for another application) says why and signs nobody in.
//   4. SAML: erin signs in at the IdP, whose page posts the response to our ACS from the IdP's
//      site; she lands in the organization, signed in, as an admin (group mapping).
//   5. A refused SAML sign-in (an assertion for another Audience) says why and signs nobody in.
// The organization verifies example.com (the peers' users' domain) through the DNS test server
// first: an identity provider vouches only for its organization's verified domains.
// Needs `make test-peers` (the provider's and the IdP's npm packages, and slapd).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { newPage, setUp, shot, tearDown, uniqueUser } from '../support/harness.mjs';
import { alert, expectVisible, notice, open, scenario, signUp, waitForPath } from '../support/flows.mjs';
import { startDnsServer, startOidcProvider, startSamlIdp, startSlapd } from '../support/sso-peers.mjs';

// The server reaches the peers on loopback over plain http/ldap only with this switch. node --test
// runs each file in its own process, and startApp passes process.env on to the server, so this
// reaches this file's server only.
process.env.GATEHOUSE_SSO_ALLOW_PRIVATE = 'true';

let appBaseUrl; // env.app.baseUrl, once the server runs

/** A JSON API call with the cookies of `page`'s browser context; asserts the status. */
async function api(page, method, path, body, expectStatus) {
  const url = path.startsWith('/') ? `${appBaseUrl}${path}` : path;
  const res = await page.request.fetch(url, {
    method,
    data: body === undefined ? undefined : body,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    failOnStatusCode: false,
  });
  const text = await res.text();
  if (expectStatus !== undefined) {
    assert.equal(res.status(), expectStatus, `${method} ${path} answered ${res.status()}: ${text.slice(0, 500)}`);
  }
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status(), json, text };
}

/** The signed-in person of `page`'s context, or null (401). */
async function whoAmI(page) {
  const { status, json, text } = await api(page, 'GET', '/api/v1/me');
  if (status === 401) return null;
  assert.equal(status, 200, `GET /api/v1/me answered ${status}: ${text.slice(0, 500)}`);
  return json;
}

async function members(ownerPage, orgId) {
  const { json } = await api(ownerPage, 'GET', `/api/v1/organizations/${orgId}/members?limit=100`, undefined, 200);
  return json.data;
}

/** At the provider: the login form, then the consent page. */
async function signInAtProvider(page, issuer, login) {
  await page.waitForURL((u) => u.origin === issuer && u.pathname.startsWith('/interaction/'));
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any password works here');
  await shot(page, `11-sso-provider-login-${login.split('#')[0]}`);
  await page.locator('button[type=submit]').click();
  // The consent page: one hidden field prompt=consent and a "Continue" button.
  await page.locator('input[name=prompt][value=consent]').waitFor({ state: 'attached' });
  await page.locator('button[type=submit]').click();
}

describe('Single sign-on', () => {
  const env = {};
  let oidc;
  let ldap;
  let saml;
  let dns;
  let owner; // { page, orgId, orgName } once set up

  before(async () => {
    // Start all three; if one fails, the others are kept in oidc/ldap/saml so that after() stops them.
    const [o, l, s, d] =
      await Promise.allSettled([startOidcProvider(), startSlapd(), startSamlIdp(), startDnsServer()]);
    oidc = o.value;
    ldap = l.value;
    saml = s.value;
    dns = d.value;
    for (const r of [o, l, s, d]) if (r.status === 'rejected') throw r.reason;
    process.env.GATEHOUSE_DNS_SERVER = dns.addr;
    await setUp(env);
    appBaseUrl = env.app.baseUrl;
  });
  after(async () => {
    await tearDown(env);
    await Promise.all([oidc?.stop(), ldap?.stop(), saml?.stop(), dns?.stop()]);
    if (env.failed) {
      if (oidc) process.stderr.write(`[11-sso] OIDC provider stderr tail:\n${oidc.stderrTail(30)}\n`);
      if (ldap) process.stderr.write(`[11-sso] start_slapd stderr tail:\n${ldap.stderrTail(30)}\n`);
      if (saml) process.stderr.write(`[11-sso] SAML IdP stderr tail:\n${saml.stderrTail(30)}\n`);
    }
  });

  /** The owner (signed up in the browser) and their organization with SSO on; made once. */
  async function ownerOrg(track) {
    if (!owner) {
      const { baseUrl } = env.app;
      const { page } = await newPage(env.browser);
      await signUp(page, baseUrl, uniqueUser('sso-owner'));
      const orgName = `SSO Corp ${Date.now()}`;
      const { json: org } = await api(page, 'POST', `/api/v1/organizations`, { name: orgName }, 201);
      assert.ok(org.id, 'the new organization has an id');
      const { json: patched } = await api(page, 'PATCH', `/api/v1/organizations/${org.id}`, { sso_enabled: true }, 200);
      assert.equal(patched.settings.sso_enabled, true, 'single sign-on is on for the organization');
      const { json: domain } =
        await api(page, 'POST', `/api/v1/organizations/${org.id}/domains`, { domain: 'example.com' }, 201);
      await dns.publish('example.com', [domain.verification.value]);
      const { json: verified } =
        await api(page, 'POST', `/api/v1/organizations/${org.id}/domains/${domain.id}/verify`, {}, 200);
      assert.equal(verified.status, 'verified', 'example.com is verified through DNS');
      owner = { page, orgId: org.id, orgName };
    }
    track(owner.page);
    return owner;
  }

  let oidcClient; // { id, secret, connection } of the OIDC connection, shared by scenarios 1 and 3

  async function oidcConnection(track) {
    const { baseUrl } = env.app;
    const { page, orgId } = await ownerOrg(track);
    if (!oidcClient) {
      const id = `gatehouse-e2e-${randomBytes(4).toString('hex')}`;
      const secret = randomBytes(24).toString('base64url');
      const { json: connection } = await api(page, 'POST', `/api/v1/organizations/${orgId}/sso-connections`, {
        type: 'oidc',
        name: 'Corp IdP',
        issuer: oidc.issuer,
        client_id: id,
        client_secret: secret,
        default_role: 'member',
        role_mapping: [{ group: 'gh-admins', role: 'admin' }],
      }, 201);
      assert.ok(connection.id, 'the connection has an id');
      assert.equal(connection.client_secret, undefined, 'the client secret is never sent back');
      assert.equal(connection.redirect_uri, `${baseUrl}/sso/oidc/callback`);
      assert.equal(connection.sign_in_url, `${baseUrl}/sso/start?connection=${connection.id}`);
      await oidc.registerClient(id, secret, [connection.redirect_uri]);
      oidcClient = { id, secret, connection };
    }
    return oidcClient;
  }

  it('OIDC: a person signs in at the identity provider and lands in the organization as an admin',
    { timeout: 120_000 },
    scenario(env, '11-sso-oidc', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page: ownerPage, orgId, orgName } = await ownerOrg(track);
      const { connection } = await oidcConnection(track);

      // Someone else, in a browser of their own, follows the sign-in link.
      const { context, page } = await newPage(env.browser);
      track(page);
      await page.goto(connection.sign_in_url);
      await signInAtProvider(page, oidc.issuer, 'alice#gh-admins+staff');
      await waitForPath(page, `/orgs/${orgId}`);
      assert.equal(new URL(page.url()).origin, baseUrl, 'back on Gatehouse');
      await expectVisible(page.getByRole('heading', { name: orgName }), `the organization's name "${orgName}"`);
      await shot(page, '11-sso-1-oidc-signed-in');

      const me = await whoAmI(page);
      assert.ok(me, 'alice is signed in');
      assert.equal(me.email, 'alice@example.com');

      const alice = (await members(ownerPage, orgId)).find((m) => m.email === 'alice@example.com');
      assert.ok(alice, 'alice is a member of the organization');
      assert.equal(alice.role, 'admin', 'the group gh-admins maps to admin');
      assert.equal(alice.last_sign_in_method, 'oidc');
      await context.close();
    }));

  it('LDAP: a wrong password is refused on the form, the right one signs the person in as a member',
    { timeout: 120_000 },
    scenario(env, '11-sso-ldap', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page: ownerPage, orgId, orgName } = await ownerOrg(track);
      const { json: connection } = await api(ownerPage, 'POST', `/api/v1/organizations/${orgId}/sso-connections`, {
        type: 'ldap',
        name: 'Directory',
        url: ldap.info.url,
        bind_dn: ldap.info.bind_dn,
        bind_password: ldap.info.bind_password,
        base_dn: ldap.info.base_dn,
        default_role: 'member',
        role_mapping: [{ group: 'gh-admins', role: 'admin' }],
      }, 201);
      assert.equal(connection.bind_password, undefined, 'the bind password is never sent back');
      const formPath = `/sso/ldap/${connection.id}/login`;

      const { context, page } = await newPage(env.browser);
      track(page);
      await page.goto(`${baseUrl}/sso/start?connection=${connection.id}`);
      await page.waitForURL((u) => u.origin === baseUrl && u.pathname === formPath);
      await expectVisible(page.getByRole('heading', { name: 'Sign in with your directory account' }), 'the directory sign-in form');

      await page.locator('input[name=username]').fill('bob');
      await page.locator('input[name=password]').fill('not-bobs-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await expectVisible(alert(page, 'Incorrect username or password.'), 'the alert "Incorrect username or password."');
      assert.equal(new URL(page.url()).pathname, formPath, 'a wrong password stays on the form');
      assert.equal(await page.locator('input[name=username]').inputValue(), 'bob', 'the username is kept');
      assert.equal(await whoAmI(page), null, 'nobody is signed in after a wrong password');
      await shot(page, '11-sso-2-ldap-wrong-password');

      await page.locator('input[name=password]').fill('bob-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await waitForPath(page, `/orgs/${orgId}`);
      await expectVisible(page.getByRole('heading', { name: orgName }), `the organization's name "${orgName}"`);
      await shot(page, '11-sso-3-ldap-signed-in');

      const me = await whoAmI(page);
      assert.ok(me, 'bob is signed in');
      assert.equal(me.email, 'bob@example.com');
      const bob = (await members(ownerPage, orgId)).find((m) => m.email === 'bob@example.com');
      assert.ok(bob, 'bob is a member of the organization');
      assert.equal(bob.role, 'member', 'bob is in no mapped group: the default role');
      assert.equal(bob.last_sign_in_method, 'ldap');
      await context.close();
    }));

  it('OIDC: a refused sign-in (an id_token for another application) says why and signs nobody in',
    { timeout: 120_000 },
    scenario(env, '11-sso-refused', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page: ownerPage, orgId } = await ownerOrg(track);
      const { id: clientId, connection } = await oidcConnection(track);
      await oidc.tamperNextIdToken(clientId, { aud: 'someone-else' });

      const { context, page } = await newPage(env.browser);
      track(page);
      await page.goto(connection.sign_in_url);
      await signInAtProvider(page, oidc.issuer, 'dave#gh-admins');
      const error = page.locator('#sso-error');
      await expectVisible(error, 'the single sign-on error', 15_000);
      assert.equal(new URL(page.url()).origin, baseUrl, 'the refusal is shown by Gatehouse');
      assert.match(await error.innerText(), /another application/);
      await expectVisible(page.getByRole('heading', { name: 'Single sign-on did not work' }), 'the heading of the refusal page');
      await expectVisible(page.getByRole('link', { name: 'Back to sign in' }), 'the link back to sign in');
      await shot(page, '11-sso-4-refused');

      assert.equal(await whoAmI(page), null, 'nobody is signed in after a refused sign-in');
      const emails = (await members(ownerPage, orgId)).map((m) => m.email);
      assert.ok(!emails.includes('dave@example.com'), 'the refused person did not join the organization');
      await context.close();
    }));

  let samlConn; // the SAML connection, shared by scenarios 4 and 5

  async function samlConnection(track) {
    const { baseUrl } = env.app;
    const { page, orgId } = await ownerOrg(track);
    if (!samlConn) {
      const { json: connection } = await api(page, 'POST', `/api/v1/organizations/${orgId}/sso-connections`, {
        type: 'saml',
        name: 'Corp SAML',
        idp_metadata_url: saml.metadata,
        default_role: 'member',
        role_mapping: [{ group: 'gh-admins', role: 'admin' }],
      }, 201);
      assert.ok(connection.id, 'the connection has an id');
      assert.ok(connection.saml, `the connection has SAML settings: ${JSON.stringify(connection)}`);
      assert.equal(connection.saml.idp_entity_id, saml.entityId, 'the IdP entity id is read from its metadata');
      assert.equal(connection.saml.sp_entity_id, `${baseUrl}/sso/saml/${connection.id}/metadata`);
      assert.equal(connection.saml.acs_url, `${baseUrl}/sso/saml/${connection.id}/acs`);
      assert.equal(connection.sign_in_url, `${baseUrl}/sso/start?connection=${connection.id}`);
      await saml.registerSp(connection.saml.sp_entity_id, connection.saml.acs_url);
      samlConn = connection;
    }
    return samlConn;
  }

  /**
   * Records, through the DevTools protocol, what the browser sends to and gets back from the ACS
   * (the IdP page's POST): the request's Origin and Sec-Fetch-Site, the answer's status, Location
   * and Set-Cookie, and every Set-Cookie line Chromium refused to store on the way, so that a
   * failed landing can say exactly where the sign-in was lost.
   */
  async function watchAcs(context, page, acsUrl) {
    const seen = { request: null, response: null, blockedCookies: [] };
    // One request id covers a request and the redirects after it: its hops, in order, pair with
    // its ExtraInfo events (the headers Chromium really sent and received), also in order.
    const hops = new Map(); // requestId -> [{ url, method }]
    const sent = new Map(); // requestId -> [headers]
    const received = new Map(); // requestId -> [{ statusCode, headers, blockedCookies }]
    const push = (map, id, v) => map.set(id, [...(map.get(id) ?? []), v]);
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.requestWillBeSent', (e) => push(hops, e.requestId, { url: e.request.url, method: e.request.method }));
    cdp.on('Network.requestWillBeSentExtraInfo', (e) => push(sent, e.requestId, e.headers));
    cdp.on('Network.responseReceivedExtraInfo', (e) => {
      push(received, e.requestId, e);
      for (const b of e.blockedCookies ?? []) seen.blockedCookies.push({ reasons: b.blockedReasons, cookieLine: b.cookieLine });
    });
    const header = (headers, name) =>
      Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
    seen.collect = () => {
      for (const [id, list] of hops) {
        const i = list.findIndex((h) => h.method === 'POST' && h.url === acsUrl);
        if (i === -1) continue;
        const req = sent.get(id)?.[i];
        const res = received.get(id)?.[i];
        seen.request = req && { origin: header(req, 'origin'), secFetchSite: header(req, 'sec-fetch-site') };
        seen.response = res && {
          status: res.statusCode, location: header(res.headers, 'location'), setCookie: header(res.headers, 'set-cookie'),
        };
      }
      return seen;
    };
    seen.describe = async () => {
      seen.collect();
      const cookies = (await context.cookies()).map((c) => `${c.name} (${c.domain}, sameSite ${c.sameSite})`);
      return `ACS request ${JSON.stringify(seen.request)}; ACS response ${JSON.stringify(seen.response)}; ` +
        `Set-Cookie lines Chromium refused ${JSON.stringify(seen.blockedCookies)}; cookies in the browser now: ` +
        `${JSON.stringify(cookies)}; page at ${page.url()}`;
    };
    return seen;
  }

  /**
   * The IdP and Gatehouse both listen on 127.0.0.1, and sites ignore ports, so a browser would see
   * the IdP's POST to the ACS as same-site. At work they are different sites: this sends the
   * browser to the IdP as http://localhost:PORT instead (same server, another site), by rewriting
   * the host in the redirect that `sign_in_url` answers with. Returns the IdP origin to expect.
   */
  async function idpOnAnotherSite(context, signInUrl) {
    const alias = new URL(saml.base);
    alias.hostname = 'localhost';
    await context.route((u) => u.href === signInUrl, async (route) => {
      const res = await route.fetch({ maxRedirects: 0 });
      const headers = res.headers();
      assert.ok(headers.location?.startsWith(`${saml.base}/sso?`),
        `${signInUrl} redirects to the IdP: ${res.status()} location ${headers.location}`);
      headers.location = alias.origin + headers.location.slice(saml.base.length);
      await route.fulfill({ response: res, headers });
    });
    return alias.origin;
  }

  /** At the IdP: its login page, then the sign-in button; its next page posts to our ACS. */
  async function signInAtIdp(page, username, idpOrigin = saml.base) {
    await page.waitForURL((u) => u.origin === idpOrigin && u.pathname === '/sso');
    await page.locator('form#login').waitFor({ state: 'visible' });
    await page.locator('#username').fill(username);
    await page.locator('#password').fill('ignored by the test IdP');
    await shot(page, `11-sso-idp-login-${username.split('#')[0]}`);
    await page.locator('#sign-in').click();
  }

  it('SAML: a person signs in through the IdP and lands in the organization as an admin',
    { timeout: 120_000 },
    scenario(env, '11-sso-saml', async ({ t, track }) => {
      const { baseUrl } = env.app;
      const { page: ownerPage, orgId, orgName } = await ownerOrg(track);
      const connection = await samlConnection(track);

      const { context, page } = await newPage(env.browser);
      track(page);
      const acs = await watchAcs(context, page, connection.saml.acs_url);
      const idpOrigin = await idpOnAnotherSite(context, connection.sign_in_url);
      await page.goto(connection.sign_in_url);
      await signInAtIdp(page, 'erin#gh-admins', idpOrigin);
      // The IdP's page posts the SAMLResponse to our ACS, which signs erin in and sends her on (303).
      try {
        await waitForPath(page, `/orgs/${orgId}`, 20_000);
      } catch (e) {
        throw new Error(`${e.message}\n${await acs.describe()}`, { cause: e });
      }
      assert.equal(new URL(page.url()).origin, baseUrl, 'back on Gatehouse');
      acs.collect();
      assert.equal(acs.request?.origin, idpOrigin, `the ACS POST came from the IdP's page: ${await acs.describe()}`);
      assert.equal(acs.response?.status, 303, `the ACS answers 303 See Other: ${await acs.describe()}`);
      assert.equal(acs.request?.secFetchSite, 'cross-site', `the ACS POST came from the IdP's site: ${await acs.describe()}`);
      assert.deepEqual(acs.blockedCookies, [], `Chromium refused no cookie on the way: ${await acs.describe()}`);
      t.diagnostic(await acs.describe());
      await expectVisible(page.getByRole('heading', { name: orgName }), `the organization's name "${orgName}"`);
      await shot(page, '11-sso-5-saml-signed-in');

      const me = await whoAmI(page);
      assert.ok(me, `erin is signed in on the page the ACS sent her to: ${await acs.describe()}`);
      assert.equal(me.email, 'erin@example.com');

      const erin = (await members(ownerPage, orgId)).find((m) => m.email === 'erin@example.com');
      assert.ok(erin, 'erin is a member of the organization');
      assert.equal(erin.role, 'admin', 'the group gh-admins maps to admin');
      assert.equal(erin.last_sign_in_method, 'saml');
      await context.close();

      // The owner fetches the IdP's metadata again from the SSO page (as after a certificate rotation).
      await open(ownerPage, `${baseUrl}/orgs/${orgId}/sso`);
      const item = ownerPage.locator(`#connection-${connection.id}`);
      await expectVisible(item.getByText(saml.metadata), 'the metadata URL of the SAML connection');
      await item.getByRole('button', { name: 'Refresh metadata' }).click();
      await expectVisible(notice(ownerPage, 'Metadata fetched again'), 'the notice "Metadata fetched again…"');
      await shot(ownerPage, '11-sso-5b-saml-metadata-refreshed');
    }));

  it('SAML: a refused sign-in (an assertion for another Audience) says why and signs nobody in',
    { timeout: 120_000 },
    scenario(env, '11-sso-saml-refused', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page: ownerPage, orgId } = await ownerOrg(track);
      const connection = await samlConnection(track);
      await saml.tamperNextResponse({ audience: 'http://wrong.example' });

      const { context, page } = await newPage(env.browser);
      track(page);
      await page.goto(connection.sign_in_url);
      await signInAtIdp(page, 'frank');
      const error = page.locator('#sso-error');
      await expectVisible(error, 'the single sign-on error', 15_000);
      assert.equal(new URL(page.url()).origin, baseUrl, 'the refusal is shown by Gatehouse');
      assert.match(await error.innerText(), /Audience/);
      await expectVisible(page.getByRole('heading', { name: 'Single sign-on did not work' }), 'the heading of the refusal page');
      await expectVisible(page.getByRole('link', { name: 'Back to sign in' }), 'the link back to sign in');
      await shot(page, '11-sso-6-saml-refused');

      assert.equal(await whoAmI(page), null, 'nobody is signed in after a refused sign-in');
      const emails = (await members(ownerPage, orgId)).map((m) => m.email);
      assert.ok(!emails.includes('frank@example.com'), 'the refused person did not join the organization');
      await context.close();
    }));
});
