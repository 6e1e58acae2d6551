// What a person does on Gatehouse pages, written with accessible locators, plus small
// waiting assertions (playwright-core has no `expect`).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SCREENSHOT_DIR, shot } from './harness.mjs';

export const HYDRATED = 'html[data-hydrated="true"]';

/** Is JavaScript on in this page's context? (set by harness.newPage callers via options) */
function jsOn(page) {
  return page.jsEnabled !== false;
}

/** Wait for the WASM app to hydrate (no-op in a JavaScript-disabled context). */
export async function waitHydrated(page, timeout = 15_000) {
  if (!jsOn(page)) return;
  try {
    await page.waitForSelector(HYDRATED, { timeout, state: 'attached' });
  } catch (e) {
    const problems = page.problems?.length ? `\npage problems:\n  ${page.problems.join('\n  ')}` : '';
    throw new Error(`page ${page.url()} never got <html data-hydrated="true"> within ${timeout} ms${problems}`, { cause: e });
  }
}

/** Navigate and (with JS) wait for hydration. Returns the navigation response. */
export async function open(page, url) {
  const response = await page.goto(url);
  await waitHydrated(page);
  return response;
}

/** Wait until the page's path is `pathname`, then (with JS) for hydration. */
export async function waitForPath(page, pathname, timeout = 15_000) {
  try {
    await page.waitForURL((u) => u.pathname === pathname, { timeout });
  } catch (e) {
    throw new Error(`expected to land on ${pathname}, but the page is at ${page.url()}`, { cause: e });
  }
  await waitHydrated(page);
}

/** Wait until `locator` is visible; fail with `what` in the message. Returns the locator. */
export async function expectVisible(locator, what, timeout = 10_000) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout });
  } catch (e) {
    const page = locator.page();
    throw new assert.AssertionError({
      message: `expected to see ${what} on ${page.url()} within ${timeout} ms`,
      actual: await visibleText(page),
      expected: what,
      operator: 'expectVisible',
    });
  }
  return locator;
}

/** Wait until no element of `locator` is visible. */
export async function expectGone(locator, what, timeout = 10_000) {
  try {
    await locator.first().waitFor({ state: 'hidden', timeout });
  } catch {
    const page = locator.page();
    throw new assert.AssertionError({
      message: `expected ${what} to be gone from ${page.url()} within ${timeout} ms`,
      actual: await visibleText(page),
      expected: `no ${what}`,
      operator: 'expectGone',
    });
  }
}

async function visibleText(page) {
  try {
    return (await page.locator('body').innerText({ timeout: 2_000 })).slice(0, 2_000);
  } catch {
    return '(could not read page text)';
  }
}

/** The `role="status"` notice containing `text`. */
export function notice(page, text) {
  return page.getByRole('status').filter({ hasText: text });
}

/** The `role="alert"` error containing `text`. */
export function alert(page, text) {
  return page.getByRole('alert').filter({ hasText: text });
}

/** Locators for the page header. */
export function header(page) {
  return page.getByRole('banner');
}

export function passwordField(page, label = 'Password') {
  return page.getByLabel(label, { exact: true });
}

/** Fill the sign-up form and submit it; does not wait for the result. */
export async function submitSignUp(page, baseUrl, user) {
  await open(page, `${baseUrl}/signup`);
  await page.getByLabel('Name', { exact: true }).fill(user.name);
  await page.getByLabel('Email', { exact: true }).fill(user.email);
  await passwordField(page).fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
}

/** Sign up and land on /account with the "Check your inbox" notice. */
export async function signUp(page, baseUrl, user) {
  await submitSignUp(page, baseUrl, user);
  await waitForPath(page, '/account');
  await expectVisible(notice(page, 'Check your inbox'), 'the notice "Check your inbox"');
}

/** Fill the sign-in form on /login and submit it; does not wait for the result. */
export async function submitSignIn(page, baseUrl, email, password, { navigate = true } = {}) {
  if (navigate) await open(page, `${baseUrl}/login`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await passwordField(page).fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Sign in and land on /account. */
export async function signIn(page, baseUrl, email, password, opts) {
  await submitSignIn(page, baseUrl, email, password, opts);
  await waitForPath(page, '/account');
  await expectVisible(page.getByRole('heading', { name: 'Account', exact: true }), 'the heading "Account"');
}

/** Sign in with a wrong password: stays on /login with the alert. */
export async function signInFails(page, baseUrl, email, password, opts) {
  await submitSignIn(page, baseUrl, email, password, opts);
  await expectVisible(alert(page, 'Incorrect email or password.'), 'the alert "Incorrect email or password."');
  assert.equal(new URL(page.url()).pathname, '/login', 'a failed sign-in stays on /login');
}

/** Press "Sign out" in the header and land on /login. */
export async function signOut(page) {
  await header(page).getByRole('button', { name: 'Sign out', exact: true }).click();
  await waitForPath(page, '/login');
  await expectVisible(header(page).getByRole('link', { name: 'Sign in', exact: true }), 'the header link "Sign in"');
}

/**
 * Wrap a test body: on failure take a screenshot and print page problems and the server log tail.
 */
export function scenario(env, slug, body) {
  return async (t) => {
    const pages = [];
    const track = (page) => { pages.push(page); return page; };
    // Drop failure screenshots of an earlier run of this scenario.
    for (const f of fs.existsSync(SCREENSHOT_DIR) ? fs.readdirSync(SCREENSHOT_DIR) : []) {
      if (f.startsWith(`${slug}-FAILED-`)) fs.rmSync(`${SCREENSHOT_DIR}/${f}`, { force: true });
    }
    try {
      await body({ t, track });
    } catch (e) {
      env.failed = true;
      for (const [i, page] of pages.entries()) {
        if (page.isClosed()) continue;
        const file = await shot(page, `${slug}-FAILED-${i}`);
        process.stderr.write(`[${slug}] failure screenshot: ${file} (url ${page.url()})\n`);
        if (page.problems?.length) process.stderr.write(`[${slug}] page problems:\n  ${page.problems.join('\n  ')}\n`);
      }
      if (env.app) process.stderr.write(`[${slug}] server log tail:\n${env.app.logTail(40)}\n`);
      throw e;
    }
  };
}
