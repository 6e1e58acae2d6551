// The SDK against a live server: GATEHOUSE_URL=http://127.0.0.1:PORT (sdk/run-live-tests.sh starts one).
// Without it the tests are skipped with a message, unless CI=true, where that is a failure.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { before, describe, test } from "node:test";

import { createClient, GatehouseError, type Gatehouse, type Organization } from "../src/index.ts";

const baseUrl = process.env.GATEHOUSE_URL;
if (!baseUrl && process.env.CI === "true") {
  throw new Error("GATEHOUSE_URL is not set (CI=true): run the tests through sdk/run-live-tests.sh");
}
const skip = baseUrl ? false : "GATEHOUSE_URL is not set: start a server (sdk/run-live-tests.sh) to run the live tests";
const PASSWORD = "Tr0ub4dor&3-horse-staple";

async function rejects(promise: Promise<unknown>, check: (e: GatehouseError) => void): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof GatehouseError, `expected a GatehouseError, got ${String(e)}`);
    check(e);
    return true;
  });
}

describe("Gatehouse TypeScript SDK against a live server", { skip }, () => {
  const run = randomUUID().slice(0, 8);
  let owner: Gatehouse;
  let org: Organization;
  let secret: string;

  before(async () => {
    const anonymous = createClient({ baseUrl: baseUrl! });
    const session = await anonymous.signup({ name: "Ada Lovelace", email: `ada-${run}@example.com`, password: PASSWORD });
    assert.equal(session.user.email, `ada-${run}@example.com`);
    assert.match(session.cookie, /^gatehouse_session=./);
    owner = createClient({ baseUrl: baseUrl!, cookie: session.cookie });
  });

  test("the session cookie signs the client in", async () => {
    const me = await owner.me();
    assert.equal(me.name, "Ada Lovelace");
    assert.equal(me.email_verified, false);
  });

  test("without credentials, account operations answer 401 unauthenticated", async () => {
    await rejects(createClient({ baseUrl: baseUrl! }).me(), (e) => {
      assert.equal(e.status, 401);
      assert.equal(e.code, "unauthenticated");
      assert.ok(e.message.length > 0);
    });
  });

  test("invalid input answers 422 with the field", async () => {
    await rejects(
      createClient({ baseUrl: baseUrl! }).signup({ name: "Bob", email: "not-an-email", password: PASSWORD }),
      (e) => {
        assert.equal(e.status, 422);
        assert.equal(e.code, "validation_failed");
        assert.equal(e.details.field, "email");
      },
    );
  });

  test("create an organization, invite someone, list members", async () => {
    org = await owner.createOrganization({ name: `Analytical Engines ${run}` });
    assert.equal(org.my_role, "owner");
    assert.equal(org.member_count, 1);

    const invitation = await owner.invite(org.id, { email: `grace-${run}@example.com`, role: "member" });
    assert.equal(invitation.email, `grace-${run}@example.com`);
    assert.equal(invitation.role, "member");
    assert.match(invitation.link, /token=/);
    const invitations = await owner.listInvitations(org.id);
    assert.deepEqual(invitations.data.map((i) => i.email), [`grace-${run}@example.com`]);

    const members = await owner.listMembers(org.id);
    assert.equal(members.data.length, 1);
    assert.equal(members.data[0]?.email, `ada-${run}@example.com`);
    assert.equal(members.data[0]?.role, "owner");
    assert.ok(!members.next_cursor);

    const mine = await owner.listOrganizations();
    assert.ok(mine.data.some((o) => o.id === org.id));
  });

  test("an API key reads its organization and members, then is rate limited", async () => {
    const key = await owner.createApiKey(org.id, {
      name: "sdk test",
      scopes: ["org:read", "members:read"],
      rate_limit_per_hour: 2,
    });
    assert.match(key.secret, /^gk_live_[0-9A-Za-z]{49}$/);
    assert.deepEqual([...key.scopes].sort(), ["members:read", "org:read"]);
    secret = key.secret;

    const bot = createClient({ baseUrl: baseUrl!, apiKey: secret });
    const read = await bot.getOrganization(org.id);
    assert.equal(read.id, org.id);
    assert.equal(read.name, `Analytical Engines ${run}`);
    const members = await bot.listMembers(org.id);
    assert.deepEqual(members.data.map((m) => m.email), [`ada-${run}@example.com`]);

    await rejects(bot.listMembers(org.id), (e) => {
      assert.equal(e.status, 429);
      assert.equal(e.code, "rate_limited");
      assert.ok(e.retryAfter !== undefined && e.retryAfter > 0, `retryAfter: ${e.retryAfter}`);
      assert.equal(e.details.retry_after, e.retryAfter);
    });
  });

  test("a key cannot act beyond its scopes or outside its organization", async () => {
    const key = await owner.createApiKey(org.id, { name: "read only", scopes: ["org:read"] });
    const bot = createClient({ baseUrl: baseUrl!, apiKey: key.secret });
    await rejects(bot.listMembers(org.id), (e) => {
      assert.equal(e.status, 403);
      assert.equal(e.code, "permission_denied");
      assert.equal(e.details.required_permission, "members:read");
    });
    await rejects(bot.getOrganization(randomUUID()), (e) => {
      assert.equal(e.status, 404);
      assert.equal(e.code, "not_found");
    });
    const raw = await bot.raw.GET("/organizations/{org}", { params: { path: { org: org.id } } });
    assert.equal(raw.response.headers.get("api-version"), "1");
    assert.ok(raw.response.headers.get("ratelimit-policy"));
    assert.ok(raw.response.headers.get("ratelimit"));
  });
});
