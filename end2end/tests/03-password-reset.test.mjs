// 3. Forgot password -> mail -> reset -> old password refused, new one works.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, strongPassword, tearDown, uniqueUser } from '../support/harness.mjs';
import { extractLink, waitForMail } from '../support/mail.mjs';
import {
  expectVisible, notice, open, passwordField, scenario, signIn, signInFails, signOut, signUp, waitForPath,
} from '../support/flows.mjs';

describe('reset a forgotten password', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('the reset link sets a new password; the old one stops working', { timeout: 60_000 },
    scenario(env, '03-reset', async ({ track }) => {
      const { baseUrl, mailDir } = env.app;
      const { page } = await newPage(env.browser);
      track(page);
      const user = uniqueUser('reset');
      const newPassword = strongPassword('N3w-Batt3ry!staple');

      await signUp(page, baseUrl, user);
      await signOut(page);

      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      await waitForPath(page, '/forgot-password');
      await page.getByLabel('Email', { exact: true }).fill(user.email);
      await page.getByRole('button', { name: 'Send reset link' }).click();
      await expectVisible(notice(page, 'If an account exists for that address'),
        'the notice "If an account exists for that address ..."');
      await shot(page, '03-reset-1-link-requested');

      const mail = await waitForMail(mailDir, user.email, 'Reset your password', 15_000);
      const link = extractLink(mail.body, '/reset-password?token=', baseUrl);
      assert.ok(link, `the reset mail holds a link ${baseUrl}/reset-password?token=...; body was:\n${mail.body}`);

      await open(page, link);
      await passwordField(page, 'New password').fill(newPassword);
      await shot(page, '03-reset-2-reset-page');
      await page.getByRole('button', { name: 'Set new password' }).click();
      await waitForPath(page, '/login');
      await expectVisible(notice(page, 'Your password was reset'), 'the notice "Your password was reset"');
      await shot(page, '03-reset-3-password-reset');

      await signInFails(page, baseUrl, user.email, user.password);
      await shot(page, '03-reset-4-old-password-refused');
      await signIn(page, baseUrl, user.email, newPassword);
      await shot(page, '03-reset-5-new-password-works');
      await page.context().close();
    }));
});
