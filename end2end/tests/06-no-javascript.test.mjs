// 6. Without JavaScript every form still works through full-page round trips.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, tearDown, uniqueUser } from '../support/harness.mjs';
import {
  expectVisible, header, notice, open, scenario, signIn, signInFails, signOut, signUp, waitForPath,
} from '../support/flows.mjs';

describe('no JavaScript', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('sign up, sign out, a refused and an accepted sign-in, and saving the profile work without JavaScript',
    { timeout: 60_000 },
    scenario(env, '06-no-js', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page } = await newPage(env.browser, { javaScriptEnabled: false });
      track(page);
      const user = uniqueUser('nojs');
      const newName = `Renamed NoJS ${user.rand}`;

      await open(page, `${baseUrl}/signup`);
      assert.equal(await page.locator('html').getAttribute('data-hydrated'), null,
        'with JavaScript off the page is never hydrated (sanity check of the test setup)');

      await signUp(page, baseUrl, user);
      await expectVisible(header(page).getByText(user.name), `the user's name "${user.name}" in the header`);
      await shot(page, '06-no-js-1-signed-up');

      await signOut(page);
      await shot(page, '06-no-js-2-signed-out');

      await signInFails(page, baseUrl, user.email, `${user.password}-wrong`);
      await shot(page, '06-no-js-3-wrong-password');

      await signIn(page, baseUrl, user.email, user.password);
      await shot(page, '06-no-js-4-signed-in');

      const nameField = page.getByLabel('Name', { exact: true });
      assert.equal(await nameField.inputValue(), user.name, 'the profile form shows the current name');
      await nameField.fill(newName);
      await page.getByRole('button', { name: 'Save profile' }).click();
      await waitForPath(page, '/account');
      await expectVisible(notice(page, 'Profile saved.'), 'the notice "Profile saved."');
      await expectVisible(header(page).getByText(newName), `the new name "${newName}" in the header`);
      assert.equal(await header(page).getByText(user.name, { exact: true }).count(), 0, 'the old name is gone from the header');
      await shot(page, '06-no-js-5-profile-saved');
      await page.context().close();
    }));

  it('an API key made without JavaScript shows its secret once, and the secret works', { timeout: 60_000 },
    scenario(env, '06-no-js-keys', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page } = await newPage(env.browser, { javaScriptEnabled: false });
      track(page);
      await signUp(page, baseUrl, uniqueUser('nojskey'));
      await open(page, `${baseUrl}/orgs`);
      const orgName = `No script ${Date.now()}`;
      await page.getByLabel('Name', { exact: true }).fill(orgName);
      await page.getByRole('button', { name: 'Create organization' }).click();
      await expectVisible(page.getByRole('heading', { name: orgName }), 'the new organization');
      const orgPath = new URL(page.url()).pathname;

      await open(page, `${baseUrl}${orgPath}/api-keys`);
      await page.getByLabel('Name', { exact: true }).fill('Cron job');
      await page.getByRole('button', { name: 'Create key' }).click();
      await expectVisible(page.getByRole('heading', { name: 'API key created' }), 'the page with the new secret');
      const secret = await page.getByLabel('API key secret').inputValue();
      assert.match(secret, /^gk_live_[0-9A-Za-z]{49}$/);
      await shot(page, '06-no-js-6-key-secret');

      const answer = await fetch(`${baseUrl}/api/v1${orgPath.replace('/orgs/', '/organizations/')}`,
        { headers: { authorization: `Bearer ${secret}` } });
      assert.equal(answer.status, 200, 'the secret shown authenticates');

      await page.getByRole('link', { name: 'I have copied it' }).click();
      await waitForPath(page, `${orgPath}/api-keys`);
      await expectVisible(page.getByRole('cell', { name: 'Cron job' }), 'the key in the list');
      assert.ok(!(await page.content()).includes(secret.slice(12)), 'the secret is not shown again');
      await page.context().close();
    }));
});
