// 1. Sign up -> verification mail -> open the link -> press "Verify my email" -> verified.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, tearDown, uniqueUser } from '../support/harness.mjs';
import { extractLink, waitForMail } from '../support/mail.mjs';
import {
  alert, expectGone, expectVisible, header, notice, open, scenario, signUp, submitSignUp, waitForPath,
} from '../support/flows.mjs';

describe('sign up and verify the email address', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('a new account verifies its email through the link in the mail', { timeout: 60_000 },
    scenario(env, '01-verify', async ({ track }) => {
      const { baseUrl, mailDir } = env.app;
      const { page } = await newPage(env.browser);
      track(page);
      const user = uniqueUser('verify');

      await signUp(page, baseUrl, user);
      await shot(page, '01-verify-1-signed-up');
      await expectVisible(header(page).getByText(user.name), `the user's name "${user.name}" in the header`);
      await expectVisible(header(page).getByRole('button', { name: 'Sign out', exact: true }), 'a "Sign out" button in the header');
      await expectVisible(page.getByText('Your email address is not verified'), 'the text "Your email address is not verified"');
      await expectVisible(page.getByRole('button', { name: 'Resend verification email' }), 'the button "Resend verification email"');

      const mail = await waitForMail(mailDir, user.email, 'Verify your email', 15_000);
      const link = extractLink(mail.body, '/verify-email?token=', baseUrl);
      assert.ok(link, `the verification mail holds a link ${baseUrl}/verify-email?token=...; body was:\n${mail.body}`);

      // Opening the link only shows a confirmation button: a GET changes nothing.
      await open(page, link);
      await expectVisible(page.getByRole('button', { name: 'Verify my email' }), 'the button "Verify my email"');
      await shot(page, '01-verify-2-link-opened');
      await open(page, `${baseUrl}/account`);
      await expectVisible(page.getByText('Your email address is not verified'),
        'still "Your email address is not verified" after merely opening the link (GET must not verify)');

      await open(page, link);
      await page.getByRole('button', { name: 'Verify my email' }).click();
      await waitForPath(page, '/account');
      await expectVisible(notice(page, 'Your email address is verified.'), 'the notice "Your email address is verified."');
      await expectGone(page.getByText('Your email address is not verified'), 'the text "Your email address is not verified"');
      await expectGone(page.getByRole('button', { name: 'Resend verification email' }), 'the button "Resend verification email"');
      await shot(page, '01-verify-3-verified');
      await page.context().close();
    }));

  it('sign-up refuses a common password and an email that is already registered', { timeout: 60_000 },
    scenario(env, '01-signup-errors', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page } = await newPage(env.browser);
      track(page);
      const user = uniqueUser('dupe');

      await submitSignUp(page, baseUrl, { ...user, password: 'password123' });
      await expectVisible(alert(page, /password/i), 'an alert mentioning the password');
      assert.equal(new URL(page.url()).pathname, '/signup', 'a refused sign-up stays on /signup');
      await shot(page, '01-signup-errors-1-weak-password');

      await signUp(page, baseUrl, user);
      await header(page).getByRole('button', { name: 'Sign out', exact: true }).click();
      await waitForPath(page, '/login');

      await submitSignUp(page, baseUrl, { ...uniqueUser('dupe'), email: user.email });
      await expectVisible(alert(page, /already registered/i), 'an alert saying the email is already registered');
      assert.equal(new URL(page.url()).pathname, '/signup', 'a refused sign-up stays on /signup');
      await shot(page, '01-signup-errors-2-duplicate-email');
      await page.context().close();
    }));
});
