// 4. Change the password on /account; sessions of other devices are listed and get signed out.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, strongPassword, tearDown, uniqueUser } from '../support/harness.mjs';
import {
  expectVisible, notice, open, passwordField, scenario, signIn, signInFails, signOut, signUp,
} from '../support/flows.mjs';

describe('change password and sessions', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('a second session is listed, and changing the password signs it out', { timeout: 90_000 },
    scenario(env, '04-change-password', async ({ track }) => {
      const { baseUrl } = env.app;
      const a = track((await newPage(env.browser)).page);
      const b = track((await newPage(env.browser)).page);
      const user = uniqueUser('change');
      const newPassword = strongPassword('Ch4nged-Corr3ct!horse');

      // Context A signs up (and so is signed in); context B signs in as the same user.
      await signUp(a, baseUrl, user);
      await signIn(b, baseUrl, user.email, user.password);
      await shot(b, '04-change-password-1-second-device');

      // A sees both sessions: its own marked "This device", B's with a "Revoke" button.
      await open(a, `${baseUrl}/account`);
      await expectVisible(a.getByRole('heading', { name: 'Sessions' }), 'the "Sessions" heading');
      const table = a.getByRole('table');
      await expectVisible(table.getByText('This device'), 'the current session marked "This device"');
      const rows = table.getByRole('row');
      const thisDevice = rows.filter({ hasText: 'This device' });
      const others = rows.filter({ has: a.getByRole('button', { name: 'Revoke' }) });
      await expectVisible(others, 'a row for the other device\'s session with a "Revoke" button');
      assert.equal(await thisDevice.count(), 1, 'exactly one session is marked "This device"');
      assert.equal(await others.count(), 1, 'the other device\'s session is listed with a "Revoke" button');
      assert.equal(await thisDevice.getByRole('button', { name: 'Revoke' }).count(), 0,
        'the current session has no "Revoke" button');
      await expectVisible(a.getByRole('button', { name: 'Sign out of all sessions' }), 'the button "Sign out of all sessions"');
      await shot(a, '04-change-password-2-sessions');

      // A changes the password.
      await passwordField(a, 'Current password').fill(user.password);
      await passwordField(a, 'New password').fill(newPassword);
      await a.getByRole('button', { name: 'Change password' }).click();
      await expectVisible(notice(a, 'Password changed.'), 'the notice "Password changed."');
      await shot(a, '04-change-password-3-changed');

      // B has been signed out: its account page now sends it to the sign-in page.
      await b.goto(`${baseUrl}/account`);
      await b.waitForURL((u) => u.pathname === '/login').catch(() => {
        throw new assert.AssertionError({
          message: `after the password change the other session should be signed out, but ${baseUrl}/account stayed at ${b.url()}`,
        });
      });
      await shot(b, '04-change-password-4-other-device-signed-out');

      // A signs out; the old password fails, the new one works.
      await signOut(a);
      await signInFails(a, baseUrl, user.email, user.password);
      await signIn(a, baseUrl, user.email, newPassword);
      await shot(a, '04-change-password-5-signed-in-with-new-password');
      await a.context().close();
      await b.context().close();
    }));
});
