// 7. An unknown page answers 404 with "Page not found".
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, tearDown } from '../support/harness.mjs';
import { expectVisible, open, scenario } from '../support/flows.mjs';

describe('unknown pages', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('/no-such-page answers 404 and says "Page not found"', { timeout: 60_000 },
    scenario(env, '07-not-found', async ({ track }) => {
      const { baseUrl } = env.app;
      const { page } = await newPage(env.browser);
      track(page);

      const response = await open(page, `${baseUrl}/no-such-page`);
      assert.equal(response.status(), 404, 'the response status is 404');
      await expectVisible(page.getByText('Page not found'), 'the text "Page not found"');
      await expectVisible(page.getByRole('banner').getByRole('link', { name: 'Sign in', exact: true }),
        'the header with a "Sign in" link');
      await shot(page, '07-not-found');
      await page.context().close();
    }));
});
