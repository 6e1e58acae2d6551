//! `/orgs/:id/webhooks`: endpoints (create with an event picker, the secret shown once), and per
//! endpoint `/orgs/:id/webhooks/:webhook` (test, rotate, enable/disable, delete, a 24-hour
//! success chart, the delivery log) and `/.../deliveries/:delivery` (every attempt, retry).
use super::{
    latest_error, one_at_a_time, org_page_with, page_link, reveal, use_org_id, when, CopyField, Loaded, OrgFrameData,
    Pager, RowAction, Section, SectionError,
};
use crate::app::components::{
    chart::StackedBars,
    form::{ActionError, Confirm, Field, FormAlert},
};
use crate::rpc::webhooks::{
    get_webhook, webhook_deliveries, webhook_delivery, webhook_outcomes, webhooks, CreateWebhook, DeleteWebhook,
    RetryWebhookDelivery, RotateWebhookSecret, SetWebhookActive, TestWebhook,
};
use crate::shared::{
    accounts::Page,
    orgs::Organization,
    roles::Permission,
    webhooks::{Delivery, DeliveryAttempt, DeliveryDetail, DeliveryStatus, OutcomeHour, Webhook, WebhookEvent},
};
use leptos::{html, prelude::*};
use leptos_router::hooks::{use_params_map, use_query_map};

fn guarded(org: Organization, page: impl FnOnce() -> AnyView) -> AnyView {
    super::guarded(org, Permission::WebhooksWrite, "managing webhooks", |_| page())
}

#[component]
pub fn OrgWebhooksPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let cursor = use_cursor();
    let create = ServerAction::<CreateWebhook>::new();
    let list = frame.load_if(
        Permission::WebhooksWrite,
        move || (frame.id.get(), cursor.get(), create.version().get()),
        |(id, cursor, _)| webhooks(id, cursor),
    );
    org_page_with(frame, Section::Webhooks, "Webhooks", move |org| {
        guarded(org, || view! { <Endpoints cursor create list/> }.into_any())
    })
}

#[component]
pub fn OrgWebhookPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let webhook_id = use_param("webhook");
    let actions = EndpointActions {
        toggle: ServerAction::new(),
        rotate: ServerAction::new(),
        test: ServerAction::new(),
        delete: ServerAction::new(),
    };
    let EndpointActions { toggle, rotate, test, .. } = actions;
    let endpoint = frame.load_if(
        Permission::WebhooksWrite,
        move || (frame.id.get(), webhook_id.get(), toggle.version().get(), rotate.version().get()),
        |(org, hook, ..)| get_webhook(org, hook),
    );
    let outcomes = frame.load_if(
        Permission::WebhooksWrite,
        move || (frame.id.get(), webhook_id.get(), test.version().get()),
        |(o, w, _)| webhook_outcomes(o, w),
    );
    let query = use_query_map();
    let status = Signal::derive(move || query.read().get("status").filter(|s| !s.is_empty()));
    let cursor = use_cursor();
    let deliveries = frame.load_if(
        Permission::WebhooksWrite,
        move || (frame.id.get(), webhook_id.get(), status.get(), cursor.get(), test.version().get()),
        |(o, w, status, cursor, _)| webhook_deliveries(o, w, status, cursor),
    );
    let filter = DeliveryFilter { status, cursor };
    org_page_with(frame, Section::Webhooks, "Webhook", move |org| {
        guarded(org, || view! { <Endpoint actions endpoint outcomes deliveries filter/> }.into_any())
    })
}

#[component]
pub fn OrgWebhookDeliveryPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let (webhook_id, delivery_id) = (use_param("webhook"), use_param("delivery"));
    let retry = ServerAction::<RetryWebhookDelivery>::new();
    let detail = frame.load_if(
        Permission::WebhooksWrite,
        move || (frame.id.get(), webhook_id.get(), delivery_id.get(), retry.version().get()),
        |(o, w, d, _)| webhook_delivery(o, w, d),
    );
    org_page_with(frame, Section::Webhooks, "Delivery", move |org| {
        guarded(org, || view! { <DeliveryView retry detail/> }.into_any())
    })
}

fn use_cursor() -> Signal<Option<String>> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("cursor").filter(|c| !c.is_empty()))
}

fn use_param(name: &'static str) -> Signal<String> {
    let params = use_params_map();
    Signal::derive(move || params.read().get(name).unwrap_or_default())
}

fn status_badge(webhook: &Webhook) -> (&'static str, &'static str) {
    if webhook.active {
        ("Active", "status-accepted")
    } else if webhook.disabled_reason.is_some() {
        ("Disabled by Gatehouse", "status-revoked")
    } else {
        ("Off", "status-expired")
    }
}

fn delivery_badge(status: DeliveryStatus) -> (&'static str, &'static str) {
    match status {
        DeliveryStatus::Pending => ("Pending", "status-pending"),
        DeliveryStatus::Succeeded => ("Succeeded", "status-accepted"),
        DeliveryStatus::Failed => ("Failed", "status-revoked"),
    }
}

// ---- the list and the create form --------------------------------------------------------------

#[component]
fn Endpoints(
    cursor: Signal<Option<String>>,
    create: ServerAction<CreateWebhook>,
    list: Loaded<Page<Webhook>>,
) -> impl IntoView {
    let id = use_org_id();
    let cursor = move || cursor.get();
    let list_view = move || {
        Suspend::new(async move {
            let first = format!("/orgs/{}/webhooks", id.get_untracked());
            match list.await {
                Ok(None) => ().into_any(),
                Ok(Some(page)) if page.data.is_empty() && cursor().is_none() => {
                    view! { <p class="empty">"No endpoints yet."</p> }.into_any()
                }
                Ok(Some(page)) => {
                    let rows = page.data.into_iter().map(|webhook| view! { <EndpointRow webhook/> }).collect_view();
                    let next = page.next_cursor.map(|c| page_link(&format!("{first}?"), &c));
                    view! {
                        <table class="table">
                            <thead><tr>
                                <th scope="col">"Endpoint"</th><th scope="col">"Events"</th><th scope="col">"Status"</th>
                                <th scope="col">"Succeeded"</th><th scope="col">"Failed"</th><th scope="col">"Last success"</th>
                            </tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                        <Pager label="Webhook pages" first on_first=cursor().is_none() next/>
                    }
                    .into_any()
                }
                Err(error) => view! { <SectionError error/> }.into_any(),
            }
        })
    };
    view! {
        <CreateForm create/>
        <section class="card" aria-labelledby="endpoints-heading">
            <h2 id="endpoints-heading">"Endpoints"</h2>
            <p>"Deliveries are signed with the " <a href="/docs/guides/webhooks">"Standard Webhooks"</a>
                " scheme; deduplicate on " <code>"webhook-id"</code> "."</p>
            <Transition fallback=|| view! { <p class="empty">"Loading endpoints…"</p> }>{list_view}</Transition>
        </section>
    }
}

#[component]
fn EndpointRow(webhook: Webhook) -> impl IntoView {
    let (status, class) = status_badge(&webhook);
    let href = format!("/orgs/{}/webhooks/{}", webhook.organization_id, webhook.id);
    let events = webhook.events.iter().map(|e| view! { <code class="scope">{e.clone()}</code> " " }).collect_view();
    view! {
        <tr>
            <td><a href=href>{webhook.url.clone()}</a>
                {(!webhook.description.is_empty()).then(|| view! { <br/><small>{webhook.description.clone()}</small> })}</td>
            <td>{events}</td>
            <td><span class=format!("badge {class}")>{status}</span></td>
            <td>{webhook.stats.successes}</td>
            <td>{webhook.stats.failures}</td>
            <td class="nowrap">{webhook.stats.last_success_at.map(when).unwrap_or_else(|| "Never".to_owned())}</td>
        </tr>
    }
}

#[component]
fn CreateForm(create: ServerAction<CreateWebhook>) -> impl IntoView {
    let id = use_org_id();
    let value = create.value();
    let error: ActionError = Signal::derive(move || value.get().and_then(Result::err));
    let form = NodeRef::<html::Form>::new();
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    let events_error = move || error.get().filter(|e| e.field() == Some("events")).map(|e| e.message);
    let boxes = WebhookEvent::ALL
        .iter()
        .map(|event| {
            let (name, description) = (event.as_str(), event.description());
            let id = format!("event-{}", name.replace('.', "-"));
            let label_for = id.clone();
            view! {
                <label class="check" for=label_for title=description>
                    <input type="checkbox" id=id name=format!("events[{name}]") value="on"/>
                    <code>{name}</code>
                </label>
            }
        })
        .collect_view();
    let issued = move || value.get().and_then(Result::ok);
    view! {
        <section class="card" aria-labelledby="new-webhook-heading">
            <h2 id="new-webhook-heading">"Add an endpoint"</h2>
            <ActionForm action=create node_ref=form attr:class="key-form">
                <FormAlert error fields=vec!["url", "description", "events"]/>
                <input type="hidden" name="org_id" value=move || id.get()/>
                <Field name="url" label="Endpoint URL" kind="url" autocomplete="off" hint="https://… — it receives a POST per event." error/>
                <Field name="description" label="Description (optional)" autocomplete="off" error/>
                <fieldset class="field" aria-describedby="events-error">
                    <legend>"Events"</legend>
                    <div class="checks">{boxes}</div>
                    {move || events_error().map(|m| view! { <p id="events-error" class="field-error" role="alert">{m}</p> })}
                </fieldset>
                <button type="submit" class="button" formaction=move || reveal(id.get(), "create_webhook")>"Add endpoint"</button>
            </ActionForm>
            {move || issued().map(|issued| view! {
                <div class="issued" role="status">
                    <p><strong>"Copy the signing secret now."</strong>
                        " It verifies every delivery to " <a href=format!("/orgs/{}/webhooks/{}", issued.webhook.organization_id, issued.webhook.id)>{issued.webhook.url.clone()}</a>
                        " and will not be shown again."</p>
                    <CopyField id="webhook-secret" label="Signing secret" value=issued.secret button="Copy secret"/>
                </div>
            })}
        </section>
    }
}

// ---- one endpoint --------------------------------------------------------------------------

/// The actions on one endpoint, made with the page so its resources can follow them.
#[derive(Clone, Copy)]
struct EndpointActions {
    toggle: ServerAction<SetWebhookActive>,
    rotate: ServerAction<RotateWebhookSecret>,
    test: ServerAction<TestWebhook>,
    delete: ServerAction<DeleteWebhook>,
}

/// The delivery log's filter, from the URL.
#[derive(Clone, Copy)]
struct DeliveryFilter {
    status: Signal<Option<String>>,
    cursor: Signal<Option<String>>,
}

#[component]
fn Endpoint(
    actions: EndpointActions,
    endpoint: Loaded<Webhook>,
    outcomes: Loaded<Vec<OutcomeHour>>,
    deliveries: Loaded<Page<Delivery>>,
    filter: DeliveryFilter,
) -> impl IntoView {
    let EndpointActions { toggle, rotate, test, delete } = actions;
    one_at_a_time(vec![RowAction::of(toggle), RowAction::of(rotate), RowAction::of(test), RowAction::of(delete)]);
    let error =
        latest_error(vec![RowAction::of(toggle), RowAction::of(rotate), RowAction::of(test), RowAction::of(delete)]);
    let rotated = rotate.value();
    view! {
        <Transition fallback=|| view! { <p class="empty">"Loading endpoint…"</p> }>
            {move || Suspend::new(async move {
                match endpoint.await {
                    Ok(None) => ().into_any(),
                    Ok(Some(webhook)) => view! { <EndpointCard webhook toggle rotate test delete error/> }.into_any(),
                    Err(error) => view! { <SectionError error/> }.into_any(),
                }
            })}
        </Transition>
        {move || rotated.get().and_then(Result::ok).map(|rotated| view! {
            <div class="issued" role="status">
                <p><strong>"Copy the new signing secret now."</strong>
                    {format!(" Until {} deliveries are signed with both the old and the new secret.", when(rotated.previous_secret_expires_at))}</p>
                <CopyField id="webhook-secret" label="New signing secret" value=rotated.secret button="Copy secret"/>
            </div>
        })}
        <Outcomes outcomes/>
        <Deliveries page=deliveries filter/>
    }
}

#[component]
fn EndpointCard(
    webhook: Webhook,
    toggle: ServerAction<SetWebhookActive>,
    rotate: ServerAction<RotateWebhookSecret>,
    test: ServerAction<TestWebhook>,
    delete: ServerAction<DeleteWebhook>,
    error: ActionError,
) -> impl IntoView {
    let (status, class) = status_badge(&webhook);
    let (org, id) = (webhook.organization_id.to_string(), webhook.id.to_string());

    let events = webhook.events.iter().map(|e| view! { <code class="scope">{e.clone()}</code> " " }).collect_view();
    let (toggle_label, toggle_to) = if webhook.active { ("Disable", "false") } else { ("Enable", "true") };
    let stats = &webhook.stats;
    let [test_ids, toggle_ids, rotate_ids, delete_ids] = [(); 4].map(|_| endpoint_ids(&org, &id));
    view! {
        <section class="card" aria-labelledby="endpoint-heading">
            <h2 id="endpoint-heading"><code>{webhook.url.clone()}</code></h2>
            <p><a href=format!("/orgs/{}/webhooks", webhook.organization_id)>"All endpoints"</a></p>
            <FormAlert error fields=Vec::new()/>
            <dl class="facts">
                <dt>"Status"</dt><dd><span class=format!("badge {class}")>{status}</span>
                    {webhook.disabled_reason.clone().map(|r| view! { " " <span>{r}</span> })}</dd>
                <dt>"Description"</dt><dd>{if webhook.description.is_empty() { "—".to_owned() } else { webhook.description.clone() }}</dd>
                <dt>"Events"</dt><dd>{events}</dd>
                <dt>"Attempts"</dt><dd>{format!("{} succeeded, {} failed", stats.successes, stats.failures)}</dd>
                <dt>"Last success"</dt><dd>{stats.last_success_at.map(when).unwrap_or_else(|| "Never".to_owned())}</dd>
                <dt>"Last failure"</dt><dd>{stats.last_failure_at.map(when).unwrap_or_else(|| "Never".to_owned())}</dd>
                {webhook.previous_secret_expires_at.map(|at| view! { <dt>"Previous secret"</dt><dd>{format!("Still signs until {}", when(at))}</dd> })}
            </dl>
            <div class="row-actions">
                {webhook.active.then(move || view! {
                    <ActionForm action=test>{test_ids}<button type="submit" class="button">"Send test event"</button></ActionForm>
                })}
                <ActionForm action=toggle>{toggle_ids}<input type="hidden" name="active" value=toggle_to/>
                    <button type="submit" class="button secondary">{toggle_label}</button></ActionForm>
                <Confirm label="Rotate secret" warning="A new secret is shown once. For 24 hours deliveries carry signatures by both secrets.">
                    <ActionForm action=rotate>{rotate_ids}<button type="submit" class="button"
                        formaction=reveal(webhook.organization_id, "rotate_webhook_secret")>"Yes, rotate"</button></ActionForm>
                </Confirm>
                <Confirm label="Delete" warning="Nothing more is sent to this endpoint, and its delivery log is deleted.">
                    <ActionForm action=delete>{delete_ids}<button type="submit" class="button danger">"Yes, delete"</button></ActionForm>
                </Confirm>
            </div>
        </section>
    }
}

/// The hidden fields that name the endpoint in each of its action forms.
fn endpoint_ids(org: &str, id: &str) -> impl IntoView {
    view! {
        <input type="hidden" name="org_id" value=org.to_owned()/>
        <input type="hidden" name="webhook_id" value=id.to_owned()/>
    }
}

#[component]
fn Outcomes(outcomes: Loaded<Vec<OutcomeHour>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="outcomes-heading">
            <h2 id="outcomes-heading">"Last 24 hours"</h2>
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match outcomes.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(hours)) => view! { <OutcomeChart hours/> }.into_any(),
                        Err(error) => view! { <SectionError error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn OutcomeChart(hours: Vec<OutcomeHour>) -> impl IntoView {
    let successes: i64 = hours.iter().map(|h| h.successes).sum();
    let failures: i64 = hours.iter().map(|h| h.failures).sum();
    let rate = if successes + failures == 0 {
        "No attempts in the last 24 hours.".to_owned()
    } else {
        format!(
            "{:.1}% of {} attempts succeeded in the last 24 hours ({successes} succeeded, {failures} failed).",
            successes as f64 * 100.0 / (successes + failures) as f64,
            successes + failures
        )
    };
    let stacks = hours.iter().map(|h| vec![(h.successes, "ok"), (h.failures, "server")]).collect();
    view! {
        <p>{rate.clone()}</p>
        <StackedBars stacks limit=None summary=rate title_id="webhook-chart-title"/>
        <p class="legend"><span class="swatch ok"></span>" Succeeded " <span class="swatch server"></span>" Failed"</p>
    }
}

#[component]
fn Deliveries(page: Loaded<Page<Delivery>>, filter: DeliveryFilter) -> impl IntoView {
    let org_id = use_org_id();
    let webhook_id = use_param("webhook");
    let DeliveryFilter { status, cursor } = filter;
    let (status, cursor) = (move || status.get(), move || cursor.get());
    let base = move || format!("/orgs/{}/webhooks/{}", org_id.get(), webhook_id.get());
    let filter = move |value: &'static str, label: &'static str| {
        let href = move || if value.is_empty() { base() } else { format!("{}?status={value}", base()) };
        let current = move || (status().unwrap_or_default() == value).then_some("page");
        view! { <a href=href aria-current=current>{label}</a> }
    };
    view! {
        <section class="card" aria-labelledby="deliveries-heading">
            <h2 id="deliveries-heading">"Delivery log"</h2>
            <nav class="pager" aria-label="Delivery status">
                {filter("", "All")}{filter("pending", "Pending")}{filter("succeeded", "Succeeded")}{filter("failed", "Failed")}
            </nav>
            <Transition fallback=|| view! { <p class="empty">"Loading deliveries…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(page)) if page.data.is_empty() => view! { <p class="empty">"No deliveries yet."</p> }.into_any(),
                        Ok(Some(page)) => {
                            let first = match status() { Some(s) => format!("{}?status={s}", base()), None => base() };
                            let sep = if first.contains('?') { "&" } else { "?" };
                            let next = page.next_cursor.map(|c| page_link(&format!("{first}{sep}"), &c));
                            let rows = page.data.into_iter().map(|delivery| view! { <DeliveryRow delivery/> }).collect_view();
                            view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"Event"</th><th scope="col">"Status"</th><th scope="col">"Attempts"</th>
                                        <th scope="col">"Last answer"</th><th scope="col">"Created"</th></tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                <Pager label="Delivery pages" first on_first=cursor().is_none() next/>
                            }.into_any()
                        }
                        Err(error) => view! { <SectionError error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn last_answer(status: Option<i64>, error: Option<String>) -> String {
    match (status, error) {
        (Some(code), _) => format!("HTTP {code}"),
        (None, Some(error)) => error,
        (None, None) => "—".to_owned(),
    }
}

#[component]
fn DeliveryRow(delivery: Delivery) -> impl IntoView {
    let org_id = use_org_id();
    let (status, class) = delivery_badge(delivery.status);
    let href = format!("/orgs/{}/webhooks/{}/deliveries/{}", org_id.get_untracked(), delivery.webhook_id, delivery.id);
    view! {
        <tr>
            <td><a href=href><code>{delivery.event_type.clone()}</code></a></td>
            <td><span class=format!("badge {class}")>{status}</span>
                {delivery.next_attempt_at.filter(|_| delivery.status == DeliveryStatus::Pending)
                    .map(|at| view! { <br/><small>{format!("Next attempt {}", when(at))}</small> })}</td>
            <td>{delivery.attempt_count}</td>
            <td>{last_answer(delivery.last_status, delivery.last_error.clone())}</td>
            <td class="nowrap">{when(delivery.created_at)}</td>
        </tr>
    }
}

// ---- one delivery --------------------------------------------------------------------------

#[component]
fn DeliveryView(retry: ServerAction<RetryWebhookDelivery>, detail: Loaded<DeliveryDetail>) -> impl IntoView {
    let org_id = use_org_id();
    let error: ActionError = Signal::derive(move || retry.value().get().and_then(Result::err));
    view! {
        <Transition fallback=|| view! { <p class="empty">"Loading delivery…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(None) => ().into_any(),
                    Ok(Some(detail)) => {
                        let (status, class) = delivery_badge(detail.delivery.status);
                        let back = format!("/orgs/{}/webhooks/{}", org_id.get_untracked(), detail.delivery.webhook_id);
                        let attempts = detail.attempts.into_iter().enumerate().map(|(i, attempt)| view! { <Attempt number=i + 1 attempt/> }).collect_view();
                        let finished = detail.delivery.status != DeliveryStatus::Pending;
                        view! {
                            <section class="card" aria-labelledby="delivery-heading">
                                <h2 id="delivery-heading"><code>{detail.delivery.event_type.clone()}</code></h2>
                                <p><a href=back>"Back to the endpoint"</a></p>
                                <FormAlert error fields=Vec::new()/>
                                <dl class="facts">
                                    <dt>"Status"</dt><dd><span class=format!("badge {class}")>{status}</span></dd>
                                    <dt><code>"webhook-id"</code></dt><dd><code>{detail.delivery.event_id.to_string()}</code></dd>
                                    <dt>"Created"</dt><dd>{when(detail.delivery.created_at)}</dd>
                                </dl>
                                {finished.then(|| view! {
                                    <ActionForm action=retry>
                                        <input type="hidden" name="org_id" value=org_id.get_untracked()/>
                                        <input type="hidden" name="webhook_id" value=detail.delivery.webhook_id.to_string()/>
                                        <input type="hidden" name="delivery_id" value=detail.delivery.id.to_string()/>
                                        <button type="submit" class="button">"Retry now"</button>
                                    </ActionForm>
                                })}
                            </section>
                            <section class="card" aria-labelledby="attempts-heading">
                                <h2 id="attempts-heading">"Attempts"</h2>
                                <ol class="attempts">{attempts}</ol>
                            </section>
                        }.into_any()
                    }
                    Err(error) => view! { <SectionError error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Attempt(number: usize, attempt: DeliveryAttempt) -> impl IntoView {
    let ok = attempt.status.is_some_and(|s| (200..300).contains(&s));
    let summary = format!(
        "Attempt {number}: {} — {} ({} ms)",
        when(attempt.attempted_at),
        last_answer(attempt.status, attempt.error.clone()),
        attempt.latency_ms
    );
    view! {
        <li class=if ok { "attempt ok" } else { "attempt failed" }>
            <details>
                <summary>{summary}</summary>
                <h3>"Request body"</h3>
                <pre class="body">{attempt.request_body}</pre>
                <h3>"Response body"</h3>
                <pre class="body">{attempt.response_body.unwrap_or_else(|| "(no answer)".to_owned())}</pre>
            </details>
        </li>
    }
}
