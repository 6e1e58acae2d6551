// 9. API keys: an owner creates a key in the dashboard, copies its secret (shown once), uses it
// from the API playground at /docs/api, and sees the use counted; the usage page draws the calls.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, tearDown, uniqueUser } from '../support/harness.mjs';
import { expectVisible, open, scenario, signUp } from '../support/flows.mjs';

describe('API keys', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('create a key, copy it once, use it from the playground', { timeout: 120_000 },
    scenario(env, '09-api-keys', async ({ track }) => {
      const { baseUrl } = env.app;
      const page = track((await newPage(env.browser, { permissions: ['clipboard-read', 'clipboard-write'] })).page);
      await signUp(page, baseUrl, uniqueUser('keys'));
      await open(page, `${baseUrl}/orgs`);
      const orgName = `Keys ${Date.now()}`;
      await page.getByLabel('Name', { exact: true }).fill(orgName);
      await page.getByRole('button', { name: 'Create organization' }).click();
      await expectVisible(page.getByRole('heading', { name: orgName }), 'the new organization');
      const orgPath = new URL(page.url()).pathname;
      const orgId = orgPath.split('/').pop();

      // Create a read-only key: the secret appears once, and the copy button puts it on the clipboard.
      await open(page, `${baseUrl}${orgPath}/api-keys`);
      await page.getByLabel('Name', { exact: true }).fill('Playground');
      await page.getByLabel('members:read').check();
      await page.getByRole('button', { name: 'Create key' }).click();
      const secretField = page.getByLabel('API key secret');
      await expectVisible(secretField, 'the new secret');
      const secret = await secretField.inputValue();
      assert.match(secret, /^gk_live_[0-9A-Za-z]{49}$/);
      await page.getByRole('button', { name: 'Copy key' }).click();
      await expectVisible(page.getByRole('button', { name: 'Copied' }), 'the "Copied" confirmation');
      assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
      await expectVisible(page.getByRole('cell', { name: secret.slice(0, 12) + '…' }), 'the key prefix in the list');
      await shot(page, '09-api-keys-1-created');

      // Shown once: after a reload the secret is nowhere on the page.
      await open(page, `${baseUrl}${orgPath}/api-keys`);
      assert.ok(!(await page.content()).includes(secret.slice(12)), 'the secret is not shown again');

      // The playground: authorize with the key, try GET /organizations/{org}.
      await page.goto(`${baseUrl}/docs/api`);
      // Swagger UI resolves and renders the whole document before it answers input; on a loaded CI
      // machine that takes seconds, so wait for an operation to be drawn and allow slow clicks.
      page.setDefaultTimeout(30_000);
      const operation = page.locator('#operations-organizations-getOrganization');
      await expectVisible(operation, 'the rendered API reference', 60_000);
      await page.locator('button.btn.authorize').first().click();
      const bearer = page.locator('.auth-container').filter({ hasText: 'api_key' });
      await bearer.locator('input').first().fill(secret);
      // Swagger UI's buttons carry aria-labels ("Apply credentials"...): find them by class.
      await bearer.locator('button.authorize').click();
      await expectVisible(bearer.getByText('Authorized'), 'the key accepted by the playground');
      await page.locator('.modal-ux button.btn-done').first().click();
      await operation.locator('.opblock-summary').first().click();
      const orgInput = operation.locator('tr[data-param-name="org"] input:not([disabled])');
      // The panel animates open: press "Try it out" until the parameter becomes editable.
      for (let i = 0; i < 5 && !(await orgInput.count()); i++) {
        await operation.locator('button.try-out__btn').click();
        await page.waitForTimeout(500);
      }
      await orgInput.fill(orgId);
      await operation.locator('button.execute').click();
      const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
      await expectVisible(status, 'the live response', 15_000);
      assert.equal((await status.innerText()).trim(), '200');
      assert.ok((await operation.locator('.live-responses-table').innerText()).includes(orgName));
      await shot(page, '09-api-keys-2-playground');

      // The key's use is counted (written in batches every few seconds).
      let counted = false;
      for (let i = 0; i < 10 && !counted; i++) {
        await open(page, `${baseUrl}${orgPath}/api-keys`);
        const row = page.getByRole('row').filter({ hasText: 'Playground' });
        counted = (await row.locator('td').nth(5).innerText()).trim() !== '0';
        if (!counted) await page.waitForTimeout(1_000);
      }
      assert.ok(counted, 'the playground call appears in the key\'s request count');

      // The usage page charts the calls against the hourly limit.
      await open(page, `${baseUrl}${orgPath}/usage`);
      await expectVisible(page.locator('svg.usage-chart rect.ok').first(), 'a bar in the usage chart');
      await expectVisible(page.getByRole('cell', { name: 'Playground' }), 'the key in the by-key table');
      await shot(page, '09-api-keys-3-usage');
    }));
});
