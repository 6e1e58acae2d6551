//! The email domains on `/orgs/:id/sso`: the TXT record that proves each, verification, and for
//! verified ones the connection their sign-ins go to and whether SSO is required.
use super::{
    kind_label, latest_error, reset_on_success, sso_link, use_cursor, use_org_id, when, CopyValue, Loaded, Pager,
    RowAction, SectionError,
};
use crate::app::components::form::{ActionError, Confirm, FormAlert, Input};
use crate::rpc::domains::{AddDomain, RemoveDomain, RouteDomain, VerifyDomain};
use crate::shared::{
    accounts::Page,
    domains::{Domain, DomainStatus},
    sso::SsoConnection,
};
use leptos::prelude::*;

/// The forms of the domain list; rows share one action per kind.
#[derive(Clone, Copy)]
pub struct DomainActions {
    pub add_domain: ServerAction<AddDomain>,
    pub verify: ServerAction<VerifyDomain>,
    pub route: ServerAction<RouteDomain>,
    pub remove_domain: ServerAction<RemoveDomain>,
}

/// The domain list; `connections_changed` changes whenever the connections to route to do.
impl DomainActions {
    /// A change that the domain list shows.
    pub fn versions(self) -> [usize; 4] {
        [
            self.add_domain.version().get(),
            self.verify.version().get(),
            self.route.version().get(),
            self.remove_domain.version().get(),
        ]
    }
}

/// The domain list and the connections a domain can route to, loaded with the page (`None` for a
/// role that may not manage SSO).
#[derive(Clone, Copy)]
pub struct DomainData {
    pub list: Loaded<Page<Domain>>,
    pub choices: Loaded<Vec<SsoConnection>>,
}

#[component]
pub fn Domains(actions: DomainActions, data: DomainData) -> impl IntoView {
    let id = use_org_id();
    let cursor = use_cursor("domains_cursor");
    let other = use_cursor("connections_cursor");
    let DomainData { list, choices } = data;
    let row_error = latest_error(vec![
        RowAction::of(actions.verify),
        RowAction::of(actions.route),
        RowAction::of(actions.remove_domain),
    ]);
    let list_view = move || {
        Suspend::new(async move {
            let org = id.get_untracked();
            let choices = choices.await.ok().flatten().unwrap_or_default();
            match list.await {
                Ok(None) => ().into_any(),
                Ok(Some(page)) if page.data.is_empty() && cursor.get_untracked().is_none() => {
                    view! { <p class="empty">"No domains yet."</p> }.into_any()
                }
                Ok(Some(page)) => {
                    let first = sso_link(&org, &[("connections_cursor", other.get_untracked())]);
                    let next = page.next_cursor.map(|c| {
                        sso_link(&org, &[("domains_cursor", Some(c)), ("connections_cursor", other.get_untracked())])
                    });
                    let items = page
                        .data
                        .into_iter()
                        .map(|domain| view! { <DomainItem domain choices=choices.clone() actions/> })
                        .collect_view();
                    view! {
                        <ul class="sso-items">{items}</ul>
                        <Pager label="Domain pages" first on_first=cursor.get_untracked().is_none() next/>
                    }
                    .into_any()
                }
                Err(error) => view! { <SectionError error/> }.into_any(),
            }
        })
    };
    view! {
        <section class="card" aria-labelledby="domains-heading">
            <h2 id="domains-heading">"Email domains"</h2>
            <p>"Prove that the organization owns an email domain by publishing a DNS TXT record. Sign-ins with addresses at a verified domain can then go to one of your connections."</p>
            <AddDomainForm add=actions.add_domain/>
            <FormAlert error=row_error fields=Vec::new()/>
            <Transition fallback=|| view! { <p class="empty">"Loading domains…"</p> }>{list_view}</Transition>
        </section>
    }
}

#[component]
fn AddDomainForm(add: ServerAction<AddDomain>) -> impl IntoView {
    let id = use_org_id();
    let value = add.value();
    let error: ActionError = Signal::derive(move || value.get().and_then(Result::err));
    let form = reset_on_success(add);
    view! {
        <ActionForm action=add node_ref=form attr:class="sso-add-domain">
            <FormAlert error fields=vec!["domain"]/>
            <input type="hidden" name="org_id" value=move || id.get()/>
            <Input form="new" name="domain" label="Add a domain" placeholder="example.com" required=true
                hint="The part of your people's addresses after the @." error/>
            <button type="submit" class="button">"Add domain"</button>
        </ActionForm>
    }
}

fn domain_badge(status: DomainStatus) -> (&'static str, &'static str) {
    match status {
        DomainStatus::Pending => ("Not verified yet", "status-pending"),
        DomainStatus::Verified => ("Verified", "status-accepted"),
    }
}

#[component]
fn DomainItem(domain: Domain, choices: Vec<SsoConnection>, actions: DomainActions) -> impl IntoView {
    let (status, class) = domain_badge(domain.status);
    let key = domain.id.to_string();
    let heading = format!("domain-{key}-heading");
    let verified = domain.status == DomainStatus::Verified;
    let ids = {
        let (org, key) = (domain.organization_id.to_string(), key.clone());
        move || {
            view! {
                <input type="hidden" name="org_id" value=org.clone()/>
                <input type="hidden" name="domain_id" value=key.clone()/>
            }
        }
    };
    let last_check = match (&domain.last_checked_at, &domain.last_check_error) {
        (Some(at), Some(error)) if !verified => Some(view! {
            <p class="check-failed"><strong>{format!("Last checked {}:", when(*at))}</strong>" "{error.clone()}</p>
        }),
        _ => None,
    };
    let record = view! {
        <dl class="facts">
            <dt>"Type"</dt><dd><code>{domain.verification.record_type.clone()}</code></dd>
            <dt>"Name"</dt><dd><CopyValue id=format!("domain-{key}-txt-name") label=format!("TXT record name for {}", domain.domain)
                value=domain.verification.name.clone()/></dd>
            <dt>"Value"</dt><dd><CopyValue id=format!("domain-{key}-txt-value") label=format!("TXT record value for {}", domain.domain)
                value=domain.verification.value.clone()/></dd>
        </dl>
    };
    let record = if verified {
        view! {
            <p>{domain.verified_at.map(|at| format!("Verified on {}.", when(at)))}</p>
            <details class="meta"><summary>"The DNS record that proved it"</summary>{record}</details>
            <DomainRouting domain=domain.clone() choices route=actions.route/>
        }
        .into_any()
    } else {
        view! {
            <p>"Publish this TXT record at the domain's DNS provider, then press " <strong>"Verify now"</strong>
                ". DNS changes can take a while to be seen."</p>
            {record}
        }
        .into_any()
    };
    let remove_ids = ids.clone();
    view! {
        <li class="sso-item" id=format!("domain-{key}")>
            <h3 id=heading>{domain.domain.clone()} " " <span class=format!("badge {class}")>{status}</span></h3>
            {record}
            {last_check}
            <div class="row-actions">
                {(!verified).then(|| view! {
                    <ActionForm action=actions.verify>{ids()}
                        <button type="submit" class="button small">"Verify now"</button></ActionForm>
                })}
                <Confirm label="Remove" small=true warning={format!("Addresses at {} stop going to single sign-on, and proving the domain again takes a new TXT record.", domain.domain)}>
                    <ActionForm action=actions.remove_domain>{remove_ids()}
                        <button type="submit" class="button danger small">"Yes, remove"</button></ActionForm>
                </Confirm>
            </div>
        </li>
    }
}

/// For a verified domain: the connection its addresses sign in with, and whether they must.
#[component]
fn DomainRouting(domain: Domain, choices: Vec<SsoConnection>, route: ServerAction<RouteDomain>) -> impl IntoView {
    let key = domain.id.to_string();
    let (select_id, check_id) = (format!("domain-{key}-connection"), format!("domain-{key}-require"));
    let options = choices
        .into_iter()
        .map(|c| {
            let label = format!("{} ({}{})", c.name, kind_label(c.kind), if c.enabled { "" } else { ", disabled" });
            view! { <option value=c.id.to_string() selected=domain.connection_id == Some(c.id)>{label}</option> }
        })
        .collect_view();
    view! {
        <ActionForm action=route attr:class="sso-routing">
            <input type="hidden" name="org_id" value=domain.organization_id.to_string()/>
            <input type="hidden" name="domain_id" value=key.clone()/>
            <div class="field">
                <label for=select_id.clone()>{format!("Sign-ins with @{} addresses go to", domain.domain)}</label>
                <select id=select_id name="connection_id">
                    <option value="" selected=domain.connection_id.is_none()>"None (people sign in with a password)"</option>
                    {options}
                </select>
            </div>
            <label class="check" for=check_id.clone()>
                <input type="checkbox" id=check_id.clone() name="require_sso" value="on" checked=domain.require_sso/>
                "Require SSO for these addresses (owners can still use their password as a break-glass path)"
            </label>
            <button type="submit" class="button secondary small">"Save"</button>
        </ActionForm>
    }
}
