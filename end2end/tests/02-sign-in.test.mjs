// 2. Sign out -> sign in with a wrong password (alert) -> sign in right -> account page.
import { after, before, describe, it } from 'node:test';
import { newPage, setUp, shot, tearDown, uniqueUser } from '../support/harness.mjs';
import {
  expectVisible, header, open, scenario, signIn, signInFails, signOut, signUp,
} from '../support/flows.mjs';

describe('sign out and sign in', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('a wrong password is refused, the right one opens the account page', { timeout: 60_000 },
    scenario(env, '02-sign-in', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page } = await newPage(env.browser);
      track(page);
      const user = uniqueUser('signin');

      await signUp(page, baseUrl, user);
      await signOut(page);
      await expectVisible(header(page).getByRole('link', { name: 'Sign up', exact: true }), 'the header link "Sign up"');
      await shot(page, '02-sign-in-1-signed-out');

      // Signed out, the account page sends you to the sign-in page.
      await open(page, `${baseUrl}/account`);
      await page.waitForURL((u) => u.pathname === '/login');

      await signInFails(page, baseUrl, user.email, `${user.password}-wrong`);
      await shot(page, '02-sign-in-2-wrong-password');
      await expectVisible(page.getByRole('link', { name: 'Forgot your password?' }), 'the link "Forgot your password?"');

      await signIn(page, baseUrl, user.email, user.password);
      await expectVisible(header(page).getByText(user.name), `the user's name "${user.name}" in the header`);
      await shot(page, '02-sign-in-3-signed-in');
      await page.context().close();
    }));
});
