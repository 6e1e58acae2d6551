// 8. Organizations: an owner creates one, invites by email, a second person accepts through the
// emailed link, the owner changes the new member's role, and the audit viewer shows each step.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, setUp, shot, tearDown, uniqueUser } from '../support/harness.mjs';
import { expectVisible, notice, open, passwordField, scenario, signUp, waitForPath } from '../support/flows.mjs';
import { extractLink, waitForMail } from '../support/mail.mjs';

describe('organizations', () => {
  const env = {};
  before(() => setUp(env));
  after(() => tearDown(env));

  it('create, invite by email, accept, change role, audit', { timeout: 120_000 },
    scenario(env, '08-organizations', async ({ track }) => {
      const { baseUrl, mailDir } = env.app;
      const owner = track((await newPage(env.browser)).page);
      const invitee = track((await newPage(env.browser)).page);
      const ownerUser = uniqueUser('owner');
      const inviteeUser = uniqueUser('invitee');
      const orgName = `Acme ${Date.now()}`;

      // The owner creates an organization.
      await signUp(owner, baseUrl, ownerUser);
      await open(owner, `${baseUrl}/orgs`);
      await shot(owner, '08-organizations-1-list-empty');
      await owner.getByLabel('Name', { exact: true }).fill(orgName);
      await owner.getByRole('button', { name: 'Create organization' }).click();
      await expectVisible(owner.getByRole('heading', { name: orgName }), `the organization heading "${orgName}"`);
      const orgPath = new URL(owner.url()).pathname;
      assert.match(orgPath, /^\/orgs\/[0-9a-f-]{36}$/, 'lands on the new organization overview');
      await shot(owner, '08-organizations-2-overview');

      // ... and invites someone (who has no account yet) by email as Member.
      await open(owner, `${baseUrl}${orgPath}/invitations`);
      await owner.getByLabel('Email', { exact: true }).fill(inviteeUser.email);
      await owner.getByLabel('Role').selectOption('member');
      await owner.getByRole('button', { name: 'Send invitation' }).click();
      await expectVisible(owner.getByRole('cell', { name: inviteeUser.email }), 'the invitation row');
      await shot(owner, '08-organizations-3-invited');

      // The invitee follows the emailed link in their own browser, creates an account from it,
      // comes back to the invitation and accepts.
      const mail = await waitForMail(mailDir, inviteeUser.email, 'You are invited to join');
      const link = extractLink(mail.body, '/invite?token=', baseUrl);
      await open(invitee, link);
      await expectVisible(invitee.getByText(orgName).first(), 'the organization name on the invitation page');
      await shot(invitee, '08-organizations-4-invitation');
      await invitee.getByRole('link', { name: 'Create account' }).click();
      await waitForPath(invitee, '/signup');
      await invitee.getByLabel('Name', { exact: true }).fill(inviteeUser.name);
      await invitee.getByLabel('Email', { exact: true }).fill(inviteeUser.email);
      await passwordField(invitee).fill(inviteeUser.password);
      await invitee.getByRole('button', { name: 'Create account' }).click();
      await waitForPath(invitee, '/invite');
      await shot(invitee, '08-organizations-4b-back-at-invitation');
      await invitee.getByRole('button', { name: 'Accept invitation' }).click();
      await waitForPath(invitee, orgPath);
      await expectVisible(invitee.getByRole('heading', { name: orgName }), 'the organization overview for the new member');
      await shot(invitee, '08-organizations-5-joined');

      // The owner makes the new member an Admin.
      await open(owner, `${baseUrl}${orgPath}/members`);
      const row = owner.getByRole('row').filter({ hasText: inviteeUser.email });
      await expectVisible(row, 'the new member in the members table');
      await row.getByLabel(`Role for ${inviteeUser.name}`).selectOption('admin');
      await row.getByRole('button', { name: 'Change role' }).click();
      await expectVisible(notice(owner, 'Role changed'), 'the notice "Role changed"');
      const badge = owner.getByRole('row').filter({ hasText: inviteeUser.email }).locator('.badge', { hasText: 'Admin' });
      await expectVisible(badge, 'the Admin badge in the row');
      await shot(owner, '08-organizations-6-role-changed');

      // The audit viewer shows every step, and the chain checks out.
      await open(owner, `${baseUrl}${orgPath}/audit`);
      for (const action of ['organization.created', 'invitation.created', 'invitation.accepted', 'member.role_changed']) {
        await expectVisible(owner.getByRole('cell', { name: action }).first(), `the audit entry ${action}`);
      }
      await expectVisible(owner.getByText(/Chain intact/), 'the chain status "Chain intact"');
      await shot(owner, '08-organizations-7-audit');

      // The new admin now sees the Invitations tab the member role did not have.
      await open(invitee, `${baseUrl}${orgPath}`);
      await expectVisible(invitee.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Invitations' }), 'the Invitations tab for an admin');
      await shot(invitee, '08-organizations-8-admin-view');
      await owner.context().close();
      await invitee.context().close();
    }));
});
