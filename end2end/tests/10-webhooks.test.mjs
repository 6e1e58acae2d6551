// 10. Webhooks: an owner adds an endpoint (a real HTTP receiver on loopback), copies its secret
// (shown once), sends a test event, sees it arrive, and finds the delivery with its attempt in the log.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { newPage, setUp, shot, tearDown, uniqueUser } from '../support/harness.mjs';
import { expectVisible, open, scenario, signUp } from '../support/flows.mjs';

/** Records every POST it receives and answers 200 "ok". */
function startReceiver() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, received, port: server.address().port })));
}

describe('Webhooks', () => {
  const env = {};
  let receiver;
  before(async () => { await setUp(env); receiver = await startReceiver(); });
  after(async () => { receiver?.server.close(); await tearDown(env); });

  it('add an endpoint, send a test event, see the delivery in the log', { timeout: 120_000 },
    scenario(env, '10-webhooks', async ({ track }) => {
      const { baseUrl } = env.app;
      const page = track((await newPage(env.browser)).page);
      await signUp(page, baseUrl, uniqueUser('hooks'));
      await open(page, `${baseUrl}/orgs`);
      const orgName = `Hooks ${Date.now()}`;
      await page.getByLabel('Name', { exact: true }).fill(orgName);
      await page.getByRole('button', { name: 'Create organization' }).click();
      await expectVisible(page.getByRole('heading', { name: orgName }), 'the new organization');
      const orgPath = new URL(page.url()).pathname;

      await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Webhooks' }).click();
      await expectVisible(page.getByRole('heading', { name: 'Add an endpoint' }), 'the webhooks page');
      const url = `http://127.0.0.1:${receiver.port}/hooks/gatehouse`;
      await page.getByLabel('Endpoint URL').fill(url);
      await page.getByLabel('Description (optional)').fill('CRM sync');
      await page.getByLabel('member.added').check();
      await page.getByLabel('member.removed').check();
      await page.getByRole('button', { name: 'Add endpoint' }).click();
      const secretField = page.getByLabel('Signing secret');
      await expectVisible(secretField, 'the signing secret');
      const secret = await secretField.inputValue();
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      await shot(page, '10-webhooks-1-created');

      // The endpoint's page: send a test event; it reaches the receiver, signed.
      await page.getByRole('link', { name: url }).first().click();
      await expectVisible(page.getByRole('heading', { name: 'Delivery log' }), 'the endpoint page');
      await page.getByRole('button', { name: 'Send test event' }).click();
      for (let i = 0; i < 50 && receiver.received.length === 0; i++) await page.waitForTimeout(200);
      assert.equal(receiver.received.length, 1, 'the receiver got the test event');
      const delivered = receiver.received[0];
      assert.equal(JSON.parse(delivered.body).type, 'ping');
      assert.match(delivered.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
      assert.ok(delivered.headers['webhook-id'] && delivered.headers['webhook-timestamp']);

      // The log shows the delivery as succeeded (reload until the worker has recorded it).
      const endpointPath = new URL(page.url()).pathname;
      let succeeded = false;
      for (let i = 0; i < 20 && !succeeded; i++) {
        await open(page, `${baseUrl}${endpointPath}`);
        succeeded = await page.getByRole('row').filter({ hasText: 'ping' }).filter({ hasText: 'Succeeded' }).count() > 0;
        if (!succeeded) await page.waitForTimeout(500);
      }
      assert.ok(succeeded, 'the ping delivery shows as succeeded');
      await expectVisible(page.locator('svg.usage-chart rect.ok').first(), 'a bar in the 24-hour chart');
      await shot(page, '10-webhooks-2-log');

      // The delivery's page lists the attempt with the answer's status and body.
      await page.getByRole('link', { name: 'ping' }).click();
      await expectVisible(page.getByRole('heading', { name: 'Attempts' }), 'the delivery page');
      const attempt = page.locator('ol.attempts li').first();
      await expectVisible(attempt.getByText('HTTP 200'), 'the attempt with its status');
      await attempt.locator('summary').click();
      await expectVisible(attempt.locator('pre.body').filter({ hasText: '"type":"ping"' }), 'the request body');
      await page.getByRole('button', { name: 'Retry now' }).click();
      for (let i = 0; i < 50 && receiver.received.length < 2; i++) await page.waitForTimeout(200);
      assert.equal(receiver.received.length, 2, 'a retry sends the event again');
      assert.equal(receiver.received[1].headers['webhook-id'], delivered.headers['webhook-id'], 'with the same webhook-id');
      await shot(page, '10-webhooks-3-delivery');
      assert.ok(orgPath);
    }));
});
