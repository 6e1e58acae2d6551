/**
 * A typed client for the Gatehouse JSON API (`/api/v1`).
 *
 * `schema.d.ts` is generated from `docs/openapi.json` by openapi-typescript (`make sdk`); this file is
 * the only hand-written part: it wraps openapi-fetch, adds the credentials (API key or session
 * cookie), and turns every non-2xx answer into a `GatehouseError`.
 *
 * ```ts
 * const gh = createClient({ baseUrl: "https://gatehouse.example", apiKey: process.env.GATEHOUSE_API_KEY });
 * const page = await gh.listMembers(orgId, { limit: 200 });
 * ```
 */
import createFetchClient, { type Client } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type Schemas = components["schemas"];
export type Me = Schemas["Me"];
export type Organization = Schemas["Organization"];
export type Member = Schemas["Member"];
export type Invitation = Schemas["Invitation"];
export type IssuedInvitation = Schemas["IssuedInvitation"];
export type ApiKey = Schemas["ApiKey"];
export type IssuedApiKey = Schemas["IssuedApiKey"];
export type NewKey = Schemas["NewKey"];
export type Webhook = Schemas["Webhook"];
export type IssuedWebhook = Schemas["IssuedWebhook"];
export type Delivery = Schemas["Delivery"];
export type Role = Schemas["Role"];
export type Permission = Schemas["Permission"];
export type ErrorBody = Schemas["ErrorBody"];
export type Page<T> = { data: T[]; next_cursor?: string | null };

/** Query parameters shared by every list operation. */
export interface PageParams {
  /** 1–200, default 50. */
  limit?: number;
  /** The `next_cursor` of the previous page. */
  cursor?: string;
}

export interface ClientOptions {
  /** The server's origin, e.g. `https://gatehouse.example`; `/api/v1` is appended unless present. */
  baseUrl: string;
  /** An organization API key (`gk_live_...`), sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** A session cookie (`gatehouse_session=...`), for account operations outside a browser. */
  cookie?: string;
  /** Extra headers sent with every request (e.g. `User-Agent`). */
  headers?: Record<string, string>;
  /** A fetch implementation (defaults to the global one). */
  fetch?: (input: Request) => Promise<Response>;
}

/** Any non-2xx answer: the API's error body, its HTTP status and, for 429, how long to wait. */
export class GatehouseError extends Error {
  readonly status: number;
  /** The stable machine-readable code, e.g. `rate_limited`, `not_found`, `validation_failed`. */
  readonly code: string;
  /** `details` of the error body (`field`, `retry_after`, `required_permission`, ...). */
  readonly details: Record<string, unknown>;
  /** Seconds to wait before retrying (the `Retry-After` header), when the server sent one. */
  readonly retryAfter: number | undefined;
  /** The `x-request-id` of the failed request: quote it when asking for help. */
  readonly requestId: string | undefined;

  constructor(status: number, code: string, message: string, init: {
    details?: Record<string, unknown>;
    retryAfter?: number;
    requestId?: string;
  } = {}) {
    super(message);
    this.name = "GatehouseError";
    this.status = status;
    this.code = code;
    this.details = init.details ?? {};
    this.retryAfter = init.retryAfter;
    this.requestId = init.requestId ?? undefined;
  }

  /** Builds the error from a failed response and its (already parsed, possibly absent) body. */
  static from(response: Response, body: unknown): GatehouseError {
    const error = (body as Partial<ErrorBody> | undefined)?.error;
    const header = response.headers.get("retry-after");
    const fromHeader = header === null ? NaN : Number.parseInt(header, 10);
    const fromBody = Number(error?.details?.retry_after);
    const retryAfter = Number.isFinite(fromHeader) ? fromHeader : Number.isFinite(fromBody) ? fromBody : undefined;
    return new GatehouseError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? (response.statusText || `HTTP ${response.status}`),
      {
        details: (error?.details as Record<string, unknown> | undefined) ?? {},
        retryAfter,
        requestId: response.headers.get("x-request-id") ?? undefined,
      },
    );
  }
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** Returns the body of a 2xx answer, or throws `GatehouseError`. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.response.ok) {
    throw GatehouseError.from(result.response, result.error);
  }
  return result.data as T;
}

/** The `name=value` pair of the session cookie in a response's `Set-Cookie` headers, if any. */
export function sessionCookie(response: Response, name = "gatehouse_session"): string | undefined {
  const all = response.headers.getSetCookie?.() ?? [response.headers.get("set-cookie") ?? ""];
  for (const line of all) {
    const pair = line.split(";", 1)[0]?.trim() ?? "";
    if (pair.startsWith(`${name}=`)) return pair;
  }
  return undefined;
}

function apiBase(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  return trimmed.endsWith("/api/v1") ? trimmed : `${trimmed}/api/v1`;
}

/** A signed-in session: the user and the cookie to send as `cookie` to another client. */
export interface Session {
  user: Me;
  cookie: string;
}

export class Gatehouse {
  /** The underlying openapi-fetch client, typed by the whole document, for operations without a helper. */
  readonly raw: Client<paths>;

  constructor(readonly options: ClientOptions) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.apiKey) headers["authorization"] = `Bearer ${options.apiKey}`;
    if (options.cookie) headers["cookie"] = options.cookie;
    this.raw = createFetchClient<paths>({
      baseUrl: apiBase(options.baseUrl),
      headers,
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  // ---- accounts (no credentials, or the session cookie) ----

  /** Creates an account and signs it in; returns the user and the session cookie. */
  async signup(body: Schemas["SignupBody"]): Promise<Session> {
    const result = await this.raw.POST("/auth/signup", { body });
    return this.session(unwrap(result), result.response);
  }

  /** Signs in; returns the user and the session cookie. */
  async login(body: Schemas["LoginBody"]): Promise<Session> {
    const result = await this.raw.POST("/auth/login", { body });
    return this.session(unwrap(result), result.response);
  }

  async logout(): Promise<void> {
    unwrap(await this.raw.POST("/auth/logout"));
  }

  async me(): Promise<Me> {
    return unwrap(await this.raw.GET("/me"));
  }

  // ---- organizations ----

  async createOrganization(body: Schemas["CreateBody"]): Promise<Organization> {
    return unwrap(await this.raw.POST("/organizations", { body }));
  }

  async listOrganizations(query: PageParams = {}): Promise<Schemas["Page_Organization"]> {
    return unwrap(await this.raw.GET("/organizations", { params: { query } }));
  }

  async getOrganization(org: string): Promise<Organization> {
    return unwrap(await this.raw.GET("/organizations/{org}", { params: { path: { org } } }));
  }

  // ---- members and invitations ----

  async listMembers(org: string, query: PageParams & { search?: string } = {}): Promise<Schemas["Page_Member"]> {
    return unwrap(await this.raw.GET("/organizations/{org}/members", { params: { path: { org }, query } }));
  }

  /** Invites someone by email; the answer carries the invitation `link` (shown once). */
  async invite(org: string, body: Schemas["InviteBody"], idempotencyKey?: string): Promise<IssuedInvitation> {
    return unwrap(
      await this.raw.POST("/organizations/{org}/invite", {
        params: { path: { org } },
        body,
        headers: idempotencyKey ? { "idempotency-key": idempotencyKey } : {},
      }),
    );
  }

  async listInvitations(org: string, query: PageParams = {}): Promise<Schemas["Page_Invitation"]> {
    return unwrap(await this.raw.GET("/organizations/{org}/invitations", { params: { path: { org }, query } }));
  }

  // ---- API keys ----

  /** Issues a key; its `secret` is in this answer only. */
  async createApiKey(org: string, body: NewKey): Promise<IssuedApiKey> {
    return unwrap(await this.raw.POST("/organizations/{org}/api-keys", { params: { path: { org } }, body }));
  }

  async listApiKeys(org: string, query: PageParams = {}): Promise<Schemas["Page_ApiKey"]> {
    return unwrap(await this.raw.GET("/organizations/{org}/api-keys", { params: { path: { org }, query } }));
  }

  async revokeApiKey(org: string, key: string): Promise<void> {
    unwrap(await this.raw.DELETE("/organizations/{org}/api-keys/{key}", { params: { path: { org, key } } }));
  }

  // ---- webhooks ----

  /** Subscribes an endpoint; its signing `secret` (`whsec_...`) is in this answer only. */
  async createWebhook(org: string, body: Schemas["NewWebhook"]): Promise<IssuedWebhook> {
    return unwrap(await this.raw.POST("/organizations/{org}/webhooks", { params: { path: { org } }, body }));
  }

  async listWebhooks(org: string, query: PageParams = {}): Promise<Schemas["Page_Webhook"]> {
    return unwrap(await this.raw.GET("/organizations/{org}/webhooks", { params: { path: { org }, query } }));
  }

  /** Queues a `ping` to the endpoint; follow it with `listWebhookDeliveries`. */
  async testWebhook(org: string, webhook: string): Promise<Delivery> {
    return unwrap(await this.raw.POST("/organizations/{org}/webhooks/{webhook}/test", { params: { path: { org, webhook } } }));
  }

  async listWebhookDeliveries(
    org: string,
    webhook: string,
    query: NonNullable<operations["listWebhookDeliveries"]["parameters"]["query"]> = {},
  ): Promise<Schemas["Page_Delivery"]> {
    return unwrap(
      await this.raw.GET("/organizations/{org}/webhooks/{webhook}/deliveries", { params: { path: { org, webhook }, query } }),
    );
  }

  private session(user: Me, response: Response): Session {
    const cookie = sessionCookie(response);
    if (!cookie) {
      throw new GatehouseError(response.status, "no_session_cookie", "the server set no session cookie");
    }
    return { user, cookie };
  }
}

/** A client for one server and one set of credentials. */
export function createClient(options: ClientOptions): Gatehouse {
  return new Gatehouse(options);
}
