//! `/orgs/:id/api-keys`: issuing keys (the secret is shown once), rolling and revoking them.
use super::{
    can, guarded, latest_error, one_at_a_time, org_page_with, page_link, reveal, when, CopyField, Loaded,
    OptionalField, OrgFrameData, Pager, RowAction, Section, SectionError,
};
use crate::app::components::form::{ActionError, Confirm, Field, FormAlert};
use crate::rpc::api_keys::{api_keys, CreateApiKey, ReassignApiKey, RevokeApiKey, RollApiKey};
use crate::shared::{
    accounts::Page,
    api_keys::{ApiKey, ApiKeyStatus, IssuedApiKey},
    ids::OrgId,
    orgs::Organization,
    roles::Permission,
};
use leptos::{html, prelude::*};
use leptos_router::hooks::use_query_map;

#[component]
pub fn OrgApiKeysPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let query = use_query_map();
    let cursor = Signal::derive(move || query.read().get("cursor").filter(|c| !c.is_empty()));
    let (create, roll, revoke, reassign) =
        (ServerAction::new(), ServerAction::new(), ServerAction::new(), ServerAction::new());
    let list = frame.load_if(
        Permission::ApiKeysWrite,
        move || {
            let versions =
                (create.version().get(), roll.version().get(), revoke.version().get(), reassign.version().get());
            (frame.id.get(), cursor.get(), versions)
        },
        |(id, cursor, _)| api_keys(id, cursor),
    );
    let data = KeyData { cursor, create, roll, revoke, reassign, list };
    org_page_with(frame, Section::ApiKeys, "API keys", move |org| {
        guarded(org, Permission::ApiKeysWrite, "managing API keys", |org| view! { <ApiKeys org data/> }.into_any())
    })
}

/// The page's actions and key list (`None` for a role that may not manage keys), made with the page.
#[derive(Clone, Copy)]
struct KeyData {
    cursor: Signal<Option<String>>,
    create: ServerAction<CreateApiKey>,
    roll: ServerAction<RollApiKey>,
    revoke: ServerAction<RevokeApiKey>,
    reassign: ServerAction<ReassignApiKey>,
    list: Loaded<Page<ApiKey>>,
}

#[component]
fn ApiKeys(org: Organization, data: KeyData) -> impl IntoView {
    let KeyData { cursor, create, roll, revoke, reassign, list } = data;
    let cursor = move || cursor.get();
    let actions = RowActions { roll, revoke, reassign, may_reassign: can(&org, Permission::OwnershipTransfer) };
    one_at_a_time(vec![RowAction::of(create), RowAction::of(roll), RowAction::of(revoke), RowAction::of(reassign)]);
    let row_error = latest_error(vec![RowAction::of(roll), RowAction::of(revoke), RowAction::of(reassign)]);
    let rolled = roll.value();
    let first = format!("/orgs/{}/api-keys", org.id);
    let list_view = move || {
        let first = first.clone();
        Suspend::new(async move {
            match list.await {
                Ok(None) => ().into_any(),
                Ok(Some(page)) if page.data.is_empty() && cursor().is_none() => {
                    view! { <p class="empty">"No API keys yet."</p> }.into_any()
                }
                Ok(Some(page)) => {
                    let orphaned: Vec<String> = page
                        .data
                        .iter()
                        .filter(|k| k.status == ApiKeyStatus::CreatorRemoved)
                        .map(|k| format!("“{}” ({}…)", k.name, k.key_prefix))
                        .collect();
                    let warning = (!orphaned.is_empty()).then(|| {
                        view! {
                            <p class="alert" role="alert">"These keys stopped working because the person who created them left the organization: "
                                {orphaned.join(", ")} ". An Owner can take them over, or revoke them."</p>
                        }
                    });
                    let rows = page.data.into_iter().map(|key| view! { <KeyRow key actions/> }).collect_view();
                    let next = page.next_cursor.map(|c| page_link(&format!("{first}?"), &c));
                    view! {
                        {warning}
                        <table class="table">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Scopes"</th>
                                <th scope="col">"Status"</th><th scope="col">"Last used"</th><th scope="col">"Requests"</th>
                                <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                        <Pager label="API key pages" first on_first=cursor().is_none() next/>
                    }
                    .into_any()
                }
                Err(error) => view! { <SectionError error/> }.into_any(),
            }
        })
    };
    view! {
        <CreateKeyForm org_id=org.id permissions=org.my_permissions.clone() limit=org.limits.max_api_calls_per_hour create/>
        <section class="card" aria-labelledby="keys-heading">
            <h2 id="keys-heading">"Keys"</h2>
            <p>"Send a key as " <code>"Authorization: Bearer gk_live_…"</code> ". Try it in the "
                <a href="/docs/api" rel="external">"API playground"</a> "."</p>
            <FormAlert error=row_error fields=Vec::new()/>
            {move || rolled.get().and_then(Result::ok).map(|issued| view! { <Secret issued/> })}
            <Transition fallback=|| view! { <p class="empty">"Loading keys…"</p> }>{list_view}</Transition>
        </section>
    }
}

#[component]
fn CreateKeyForm(
    org_id: OrgId,
    permissions: Vec<Permission>,
    limit: i64,
    create: ServerAction<CreateApiKey>,
) -> impl IntoView {
    let value = create.value();
    let error: ActionError = Signal::derive(move || value.get().and_then(Result::err));
    let issued = move || value.get().and_then(Result::ok);
    let form = NodeRef::<html::Form>::new();
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    let scope_error = move || error.get().filter(|e| e.field() == Some("scopes")).map(|e| e.message);
    let boxes = permissions
        .into_iter()
        .map(|p| {
            let id = format!("scope-{}", p.as_str().replace(':', "-"));
            let label_for = id.clone();
            let checked = matches!(p, Permission::OrgRead);
            view! {
                <label class="check" for=label_for>
                    <input type="checkbox" id=id name=format!("scopes[{}]", p.as_str()) value="on" checked=checked/>
                    <code>{p.as_str()}</code>
                </label>
            }
        })
        .collect_view();
    let limit_hint = format!("Leave empty for the organization's limit ({limit} per hour).");
    view! {
        <section class="card" aria-labelledby="new-key-heading">
            <h2 id="new-key-heading">"Create a key"</h2>
            <ActionForm action=create node_ref=form attr:class="key-form">
                <FormAlert error fields=vec!["name", "scopes", "expires_on", "rate_limit_per_hour"]/>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field name="name" label="Name" autocomplete="off" error/>
                <fieldset class="field" aria-describedby="scopes-error">
                    <legend>"Scopes"</legend>
                    <p class="hint">"A key can do only what you can do yourself."</p>
                    <div class="checks">{boxes}</div>
                    {move || scope_error().map(|m| view! { <p id="scopes-error" class="field-error" role="alert">{m}</p> })}
                </fieldset>
                <OptionalField name="expires_on" label="Expires on (optional)" kind="date" error/>
                <OptionalField name="rate_limit_per_hour" label="Requests per hour (optional)" kind="number"
                    hint=limit_hint error/>
                <button type="submit" class="button" formaction=reveal(org_id, "create_api_key")>"Create key"</button>
            </ActionForm>
            {move || issued().map(|issued| view! { <Secret issued/> })}
        </section>
    }
}

/// A key's secret, right after it was issued or rolled: the only time it is shown.
#[component]
fn Secret(issued: IssuedApiKey) -> impl IntoView {
    view! {
        <div class="issued" role="status">
            <p><strong>{format!("Copy the secret of “{}” now.", issued.key.name)}</strong>
                " It is not stored and will not be shown again."</p>
            <CopyField id="api-key-secret" label="API key secret" value=issued.secret button="Copy key"/>
        </div>
    }
}

/// The actions a key row offers; taking a key over is for Owners.
#[derive(Clone, Copy)]
struct RowActions {
    roll: ServerAction<RollApiKey>,
    revoke: ServerAction<RevokeApiKey>,
    reassign: ServerAction<ReassignApiKey>,
    may_reassign: bool,
}

#[component]
fn KeyRow(key: ApiKey, actions: RowActions) -> impl IntoView {
    let RowActions { roll, revoke, reassign, may_reassign } = actions;
    let (status, class) = match key.status {
        ApiKeyStatus::Active => ("Active", "status-accepted"),
        ApiKeyStatus::Expired => ("Expired", "status-expired"),
        ApiKeyStatus::Revoked => ("Revoked", "status-revoked"),
        ApiKeyStatus::CreatorRemoved => ("Creator left", "status-expired"),
    };
    let scopes = key.scopes.iter().map(|s| view! { <code class="scope">{s.as_str()}</code> " " }).collect_view();
    let last_used = key.last_used_at.map(when).unwrap_or_else(|| "Never".to_owned());
    let expires = key.expires_at.map(|at| format!("Expires {}", when(at)));
    let grace = key.previous_secret_expires_at.map(|at| format!("Old secret works until {}", when(at)));
    let (org_id, id) = (key.organization_id.to_string(), key.id.to_string());
    let (org_id2, id2) = (org_id.clone(), id.clone());
    let take_over = may_reassign.then(|| {
        let (org_id, id) = (org_id.clone(), id.clone());
        view! {
            <Confirm label="Take over" small=true warning={format!("“{}” will act with your permissions (within its scopes) from now on.", key.name)}>
                <ActionForm action=reassign>
                    <input type="hidden" name="org_id" value=org_id/>
                    <input type="hidden" name="key_id" value=id/>
                    <button type="submit" class="button small">"Yes, take it over"</button>
                </ActionForm>
            </Confirm>
        }
    });
    let actions = (key.status != ApiKeyStatus::Revoked).then(|| {
        view! {
            <div class="row-actions">
                {take_over}
                <Confirm label="Roll" small=true>
                    <ActionForm action=roll>
                        <input type="hidden" name="org_id" value=org_id/>
                        <input type="hidden" name="key_id" value=id/>
                        <label for=format!("grace-{}", key.id)>"Old secret keeps working for"</label>
                        <select id=format!("grace-{}", key.id) name="grace_hours">
                            <option value="0">"No time: stop it now"</option>
                            <option value="1">"1 hour"</option>
                            <option value="24" selected>"24 hours"</option>
                            <option value="168">"7 days"</option>
                        </select>
                        <button type="submit" class="button small" formaction=reveal(key.organization_id, "roll_api_key")>"Roll key"</button>
                    </ActionForm>
                </Confirm>
                <Confirm label="Revoke" small=true warning={format!("“{}” stops working at once, everywhere.", key.name)}>
                    <ActionForm action=revoke>
                        <input type="hidden" name="org_id" value=org_id2/>
                        <input type="hidden" name="key_id" value=id2/>
                        <button type="submit" class="button danger small">"Yes, revoke"</button>
                    </ActionForm>
                </Confirm>
            </div>
        }
    });
    view! {
        <tr>
            <td>{key.name.clone()}
                {expires.map(|e| view! { <br/><small>{e}</small> })}
                {grace.map(|g| view! { <br/><small>{g}</small> })}</td>
            <td><code>{format!("{}…", key.key_prefix)}</code></td>
            <td>{scopes}</td>
            <td><span class=format!("badge {class}")>{status}</span></td>
            <td class="nowrap">{last_used}</td>
            <td>{key.total_requests}</td>
            <td>{actions}</td>
        </tr>
    }
}
