// 5. Hydration: the "Show password" button toggles the password input's type (client-side only).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, tearDown } from '../support/harness.mjs';
import { open, passwordField, scenario } from '../support/flows.mjs';

describe('hydration', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  for (const path of ['/login', '/signup']) {
    it(`"Show password" on ${path} toggles the password field between hidden and shown`, { timeout: 60_000 },
      scenario(env, `05-hydration${path.replace('/', '-')}`, async ({ track }) => {
        const { baseUrl } = env.app;
        const { page } = await newPage(env.browser);
        track(page);
        const slug = `05-hydration${path.replace('/', '-')}`;

        await open(page, `${baseUrl}${path}`); // waits for html[data-hydrated="true"]
        const input = passwordField(page);
        await input.fill('Secret-Typed-Value-42!');
        const toggle = page.getByRole('button', { name: 'Show password' });
        assert.equal(await toggle.count(), 1, 'one "Show password" button next to the password field');
        // Keep hold of this very element: its label may change once pressed.
        const button = await toggle.elementHandle();
        assert.equal(await button.getAttribute('type'), 'button', '"Show password" is type=button (it never submits)');
        assert.equal(await input.getAttribute('type'), 'password', 'the password is hidden at first');
        assert.equal(await button.getAttribute('aria-pressed'), 'false', 'aria-pressed is "false" at first');
        await shot(page, `${slug}-1-hidden`);

        await button.click();
        await page.waitForFunction((el) => el.getAttribute('aria-pressed') === 'true', button, { timeout: 5_000 })
          .catch(async () => assert.fail('pressing "Show password" did not set aria-pressed="true" within 5 s ' +
            `(aria-pressed=${await button.getAttribute('aria-pressed')}, input type=${await input.getAttribute('type')}, ` +
            `page problems: ${JSON.stringify(page.problems)})`));
        assert.equal(await input.getAttribute('type'), 'text', 'after pressing "Show password" the input is type=text');
        assert.equal(await input.inputValue(), 'Secret-Typed-Value-42!', 'the typed password is kept and now readable');
        assert.equal(new URL(page.url()).pathname, path, 'pressing the button did not submit the form');
        await shot(page, `${slug}-2-shown`);

        await button.click();
        await page.waitForFunction((el) => el.getAttribute('aria-pressed') === 'false', button, { timeout: 5_000 });
        assert.equal(await input.getAttribute('type'), 'password', 'pressing it again hides the password');
        assert.equal(await input.inputValue(), 'Secret-Typed-Value-42!', 'the typed password is still kept');
        await shot(page, `${slug}-3-hidden-again`);
        await page.context().close();
      }));
  }
});
