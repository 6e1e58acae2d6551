//! `/orgs/:id/audit`: the organization's tamper-evident log, filtered by action, with a CSV
//! download and the result of checking the hash chain.
use super::{enc, guarded, org_page_with, page_link, when, Loaded, OrgFrameData, Pager, Section, SectionError};
use crate::rpc::audit::{audit_logs, verify_audit};
use crate::shared::{
    accounts::Page,
    audit::{AuditEntry, ChainStatus},
    orgs::Organization,
    roles::Permission,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Actions the filter offers (the log itself records whatever happened).
const ACTIONS: [&str; 12] = [
    "organization.created",
    "organization.updated",
    "organization.ownership_transferred",
    "organization.deleted",
    "member.role_changed",
    "member.removed",
    "member.left",
    "invitation.created",
    "invitation.resent",
    "invitation.revoked",
    "invitation.accepted",
    "user.signed_in",
];

#[component]
pub fn OrgAuditPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let query = use_query_map();
    let action = Signal::derive(move || query.read().get("action").filter(|a| !a.trim().is_empty()));
    let cursor = Signal::derive(move || query.read().get("cursor").filter(|c| !c.is_empty()));
    let entries = frame.load_if(
        Permission::AuditRead,
        move || (frame.id.get(), action.get(), cursor.get()),
        |(id, action, cursor)| audit_logs(id, action, cursor),
    );
    let chain = frame.load_if(Permission::AuditRead, move || frame.id.get(), verify_audit);
    let data = AuditData { action, cursor, entries, chain };
    org_page_with(frame, Section::Audit, "Audit log", move |org| {
        guarded(org, Permission::AuditRead, "reading the audit log", |org| view! { <Audit org data/> }.into_any())
    })
}

/// The filter of the URL and what the page loads (`None` for a role that may not read the log).
#[derive(Clone, Copy)]
struct AuditData {
    action: Signal<Option<String>>,
    cursor: Signal<Option<String>>,
    entries: Loaded<Page<AuditEntry>>,
    chain: Loaded<ChainStatus>,
}

#[component]
fn Audit(org: Organization, data: AuditData) -> impl IntoView {
    let AuditData { action, cursor, entries, chain } = data;
    let (action, cursor) = (move || action.get(), move || cursor.get());
    let org_id = org.id;
    let base = move || match action() {
        Some(a) => format!("/orgs/{org_id}/audit?action={}&", enc(&a)),
        None => format!("/orgs/{org_id}/audit?"),
    };
    let csv = move || match action() {
        Some(a) => format!("/api/v1/organizations/{org_id}/audit-logs?format=csv&action={}", enc(&a)),
        None => format!("/api/v1/organizations/{org_id}/audit-logs?format=csv"),
    };
    let current = untrack(action).unwrap_or_default();
    let mut choices: Vec<String> = ACTIONS.iter().map(|a| (*a).to_owned()).collect();
    if !current.is_empty() && !choices.contains(&current) {
        choices.push(current.clone());
    }
    let options = choices
        .into_iter()
        .map(|a| {
            let selected = a == current;
            view! { <option value=a.clone() selected=selected>{a.clone()}</option> }
        })
        .collect_view();
    view! {
        <section class="card" aria-label="Audit log">
            <div class="toolbar">
                <form method="get" class="search">
                    <label for="audit-action">"Action"</label>
                    <select id="audit-action" name="action">
                        <option value="" selected=current.is_empty()>"All actions"</option>
                        {options}
                    </select>
                    <button type="submit" class="button secondary">"Filter"</button>
                </form>
                <a class="button secondary" href=csv download="audit-log.csv">"Download CSV"</a>
            </div>
            <Transition fallback=|| view! { <p class="empty">"Checking the chain…"</p> }>
                {move || Suspend::new(async move {
                    match chain.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(status)) => view! { <Chain status/> }.into_any(),
                        Err(error) => view! { <SectionError error/> }.into_any(),
                    }
                })}
            </Transition>
            <Transition fallback=|| view! { <p class="empty">"Loading entries…"</p> }>
                {move || Suspend::new(async move {
                    match entries.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(page)) if page.data.is_empty() => view! {
                            <p class="empty">{if action().is_some() { "No entries for this action." } else { "No entries yet." }}</p>
                        }.into_any(),
                        Ok(Some(page)) => {
                            let rows = page.data.into_iter().map(|entry| view! { <EntryRow entry/> }).collect_view();
                            let first = base().trim_end_matches(['?', '&']).to_owned();
                            view! {
                                <table class="table audit">
                                    <thead><tr>
                                        <th scope="col">"Time"</th><th scope="col">"Actor"</th><th scope="col">"Action"</th>
                                        <th scope="col">"Resource"</th><th scope="col">"IP address"</th>
                                    </tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                                <Pager label="Audit log pages" first on_first=cursor().is_none()
                                    next=page.next_cursor.map(|c| page_link(&base(), &c))/>
                            }.into_any()
                        }
                        Err(error) => view! { <SectionError error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Chain(status: ChainStatus) -> impl IntoView {
    let entries = if status.checked == 1 { "entry" } else { "entries" };
    if status.ok {
        view! { <p class="chain-ok" role="status">{format!("Chain intact: {} {entries} verified.", status.checked)}</p> }
            .into_any()
    } else {
        let reason = status.reason.unwrap_or_else(|| "it does not verify".to_owned());
        let at = status.first_broken.map(|id| format!(" First bad entry: {id}.")).unwrap_or_default();
        view! {
            <p class="alert" role="alert">
                {format!("Chain broken after {} verified {entries}: {reason}.{at} The log may have been altered outside Gatehouse.", status.checked)}
            </p>
        }
        .into_any()
    }
}

#[component]
fn EntryRow(entry: AuditEntry) -> impl IntoView {
    let actor = if entry.actor_type == "user" {
        entry.actor_name.clone()
    } else {
        format!("{} ({})", entry.actor_name, entry.actor_type)
    };
    let resource = match &entry.resource_id {
        Some(id) => format!("{} {}", entry.resource_type, id),
        None => entry.resource_type.clone(),
    };
    let details = entry.metadata.as_object().is_some_and(|m| !m.is_empty()).then(|| {
        let pretty = serde_json::to_string_pretty(&entry.metadata).unwrap_or_default();
        view! { <details class="meta"><summary>"Details"</summary><pre>{pretty}</pre></details> }
    });
    view! {
        <tr>
            <td class="nowrap">{when(entry.created_at)}</td>
            <td>{actor}</td>
            <td><code>{entry.action.clone()}</code>{details}</td>
            <td class="resource">{resource}</td>
            <td>{entry.ip.clone().unwrap_or_default()}</td>
        </tr>
    }
}
