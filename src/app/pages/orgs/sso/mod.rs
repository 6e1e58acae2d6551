//! `/orgs/:id/sso`: single sign-on. Whether it is on for the organization; its email domains (in
//! `domains`); its connections (values to copy into the identity
//! provider, test, enable/disable, refresh SAML metadata, delete); and guided forms to add an
//! OIDC, LDAP or SAML connection.
use super::{
    can,
    domains::{DomainActions, DomainData, Domains},
    guarded, kind_label, latest_error, one_at_a_time, org_page_with, reload_org_after, sso_link, use_cursor,
    use_org_id, CopyValue, Loaded, OrgFrameData, Pager, RowAction, Section, SectionError,
};
use crate::app::components::form::{action_error, Confirm, FormAlert};
use crate::rpc::{
    domains::{sso_domains, AddDomain, RemoveDomain, RouteDomain, VerifyDomain},
    sso::{
        oidc_redirect_uri, sso_connection_choices, sso_connections, CreateLdapConnection, CreateOidcConnection,
        CreateSamlConnection, DeleteConnection, RefreshSamlMetadata, SetConnectionEnabled, SetSsoEnabled,
        TestConnection,
    },
};
use crate::shared::{
    accounts::Page,
    ids::OrgId,
    orgs::Organization,
    roles::Permission,
    sso::{ConnectionKind, OidcPreset, SsoConnection},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

mod forms;
use forms::AddConnection;

#[component]
pub fn OrgSsoPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let actions = Actions::new();
    let id = frame.id;
    let (connections_cursor, domains_cursor) = (use_cursor("connections_cursor"), use_cursor("domains_cursor"));
    let data = SsoData {
        connections: frame.load_if(
            Permission::SsoWrite,
            move || (id.get(), connections_cursor.get(), actions.connections_changed(), actions.test.version().get()),
            |(id, cursor, ..)| sso_connections(id, cursor),
        ),
        redirect: frame.load_if(Permission::SsoWrite, move || id.get(), oidc_redirect_uri),
        domains: DomainData {
            list: frame.load_if(
                Permission::SsoWrite,
                move || (id.get(), domains_cursor.get(), actions.domains().versions()),
                |(id, cursor, _)| sso_domains(id, cursor),
            ),
            choices: frame.load_if(
                Permission::SsoWrite,
                move || (id.get(), actions.connections_changed()),
                |(id, _)| sso_connection_choices(id),
            ),
        },
    };
    org_page_with(frame, Section::Sso, "Single sign-on", move |org| {
        guarded(org, Permission::SsoWrite, "managing single sign-on", |org| {
            view! { <Sso org actions data/> }.into_any()
        })
    })
}

/// What the page loads, made with the page (`None` for a role that may not manage SSO).
#[derive(Clone, Copy)]
struct SsoData {
    connections: Loaded<Page<SsoConnection>>,
    redirect: Loaded<String>,
    domains: DomainData,
}

/// Every form of the page; rows of one kind share one action.
#[derive(Clone, Copy)]
struct Actions {
    add_domain: ServerAction<AddDomain>,
    verify: ServerAction<VerifyDomain>,
    route: ServerAction<RouteDomain>,
    remove_domain: ServerAction<RemoveDomain>,
    oidc: ServerAction<CreateOidcConnection>,
    ldap: ServerAction<CreateLdapConnection>,
    saml: ServerAction<CreateSamlConnection>,
    toggle: ServerAction<SetConnectionEnabled>,
    refresh: ServerAction<RefreshSamlMetadata>,
    delete: ServerAction<DeleteConnection>,
    test: ServerAction<TestConnection>,
}

impl Actions {
    fn new() -> Actions {
        Actions {
            add_domain: ServerAction::new(),
            verify: ServerAction::new(),
            route: ServerAction::new(),
            remove_domain: ServerAction::new(),
            oidc: ServerAction::new(),
            ldap: ServerAction::new(),
            saml: ServerAction::new(),
            toggle: ServerAction::new(),
            refresh: ServerAction::new(),
            delete: ServerAction::new(),
            test: ServerAction::new(),
        }
    }

    fn all(self) -> Vec<RowAction> {
        vec![
            RowAction::of(self.add_domain),
            RowAction::of(self.verify),
            RowAction::of(self.route),
            RowAction::of(self.remove_domain),
            RowAction::of(self.oidc),
            RowAction::of(self.ldap),
            RowAction::of(self.saml),
            RowAction::of(self.toggle),
            RowAction::of(self.refresh),
            RowAction::of(self.delete),
            RowAction::of(self.test),
        ]
    }

    /// The forms of the domain list.
    fn domains(self) -> DomainActions {
        DomainActions {
            add_domain: self.add_domain,
            verify: self.verify,
            route: self.route,
            remove_domain: self.remove_domain,
        }
    }

    /// A change that the connection lists (and the domains' connection choices) show.
    fn connections_changed(self) -> [usize; 6] {
        [
            self.oidc.version().get(),
            self.ldap.version().get(),
            self.saml.version().get(),
            self.toggle.version().get(),
            self.refresh.version().get(),
            self.delete.version().get(),
        ]
    }
}

#[component]
fn Sso(org: Organization, actions: Actions, data: SsoData) -> impl IntoView {
    one_at_a_time(actions.all());
    view! {
        <SsoSwitch org_id=org.id on=org.settings.sso_enabled may_change=can(&org, Permission::OrgWrite)/>
        <SsoNotice/>
        <Domains actions=actions.domains() data=data.domains/>
        <Connections actions list=data.connections/>
        <AddConnection actions redirect=data.redirect/>
    }
}

/// The success message for this page's own `?notice=` codes (the frame shows the shared ones).
#[component]
fn SsoNotice() -> impl IntoView {
    let query = use_query_map();
    let text = move || {
        if query.read().get("__err").is_some() {
            return None;
        }
        Some(match query.read().get("notice")?.as_str() {
            "domain_added" => "Domain added. Publish its TXT record, then press Verify now.",
            "domain_verified" => "Domain verified. Choose the connection its addresses sign in with.",
            "domain_saved" => "Sign-in settings for the domain saved.",
            "domain_removed" => "Domain removed. Its addresses no longer go to single sign-on.",
            "connection_created" => "Connection added. Test it, then choose it for a verified domain.",
            "connection_enabled" => "Connection enabled.",
            "connection_disabled" => "Connection disabled. Sign-ins through it are refused.",
            "metadata_refreshed" => "Metadata fetched again from the identity provider and saved.",
            "connection_deleted" => "Connection deleted.",
            _ => return None,
        })
    };
    move || text().map(|message| view! { <p class="notice" role="status">{message}</p> })
}

// ---- the organization's setting --------------------------------------------------------------

#[component]
fn SsoSwitch(org_id: OrgId, on: bool, may_change: bool) -> impl IntoView {
    let switch = ServerAction::<SetSsoEnabled>::new();
    reload_org_after(switch);
    let error = action_error(switch);
    let (state, class) = if on { ("On", "status-accepted") } else { ("Off", "status-expired") };
    let explain = if on {
        "People can sign in through the enabled connections below."
    } else {
        "Sign-ins through the connections below are refused until single sign-on is turned on for the organization. You can set everything up first."
    };
    let hidden = move || {
        view! {
            <input type="hidden" name="org_id" value=org_id.to_string()/>
            <input type="hidden" name="enabled" value=if on { "false" } else { "true" }/>
        }
    };
    let control = match (may_change, on) {
        (false, _) => view! {
            <p class="hint">"Someone who can change the organization's " <a href=format!("/orgs/{org_id}/settings")>"settings"</a>
                " can turn it on or off."</p>
        }
        .into_any(),
        (true, false) => view! {
            <ActionForm action=switch>{hidden()}<button type="submit" class="button">"Turn single sign-on on"</button></ActionForm>
        }
        .into_any(),
        (true, true) => view! {
            <Confirm label="Turn single sign-on off" warning="Nobody can sign in through a connection while it is off, including people whose domain requires single sign-on (owners keep their password).">
                <ActionForm action=switch>{hidden()}<button type="submit" class="button danger">"Yes, turn it off"</button></ActionForm>
            </Confirm>
        }
        .into_any(),
    };
    view! {
        <section class="card sso-switch" aria-labelledby="sso-switch-heading">
            <h2 id="sso-switch-heading">"Single sign-on for this organization: "
                <span class=format!("badge {class}")>{state}</span></h2>
            <p>{explain}</p>
            <FormAlert error fields=Vec::new()/>
            {control}
        </section>
    }
}

// ---- connections -----------------------------------------------------------------------------

#[component]
fn Connections(actions: Actions, list: Loaded<Page<SsoConnection>>) -> impl IntoView {
    let id = use_org_id();
    let cursor = use_cursor("connections_cursor");
    let other = use_cursor("domains_cursor");
    let row_error = latest_error(vec![
        RowAction::of(actions.toggle),
        RowAction::of(actions.refresh),
        RowAction::of(actions.delete),
        RowAction::of(actions.test),
    ]);
    let list_view = move || {
        Suspend::new(async move {
            let org = id.get_untracked();
            match list.await {
                Ok(None) => ().into_any(),
                Ok(Some(page)) if page.data.is_empty() && cursor.get_untracked().is_none() => {
                    view! { <p class="empty">"No connections yet. Add one below."</p> }.into_any()
                }
                Ok(Some(page)) => {
                    let first = sso_link(&org, &[("domains_cursor", other.get_untracked())]);
                    let next = page.next_cursor.map(|c| {
                        sso_link(&org, &[("domains_cursor", other.get_untracked()), ("connections_cursor", Some(c))])
                    });
                    let items = page
                        .data
                        .into_iter()
                        .map(|connection| view! { <ConnectionItem connection actions/> })
                        .collect_view();
                    view! {
                        <ul class="sso-items">{items}</ul>
                        <Pager label="Connection pages" first on_first=cursor.get_untracked().is_none() next/>
                    }
                    .into_any()
                }
                Err(error) => view! { <SectionError error/> }.into_any(),
            }
        })
    };
    view! {
        <section class="card" aria-labelledby="connections-heading">
            <h2 id="connections-heading">"Connections"</h2>
            <p>"Each connection is one identity provider. People it signs in for the first time join with the role their groups map to."</p>
            <FormAlert error=row_error fields=Vec::new()/>
            <Transition fallback=|| view! { <p class="empty">"Loading connections…"</p> }>{list_view}</Transition>
        </section>
    }
}

/// The outcome of **Test connection** for `connection`, from the address the test sent the
/// browser to (so it shows without JavaScript too).
fn use_test_result(connection: String) -> Signal<Option<(bool, String)>> {
    let query = use_query_map();
    Signal::derive(move || {
        let query = query.read();
        if query.get("tested").as_deref() != Some(connection.as_str()) || query.get("__err").is_some() {
            return None;
        }
        Some((query.get("test_ok").as_deref() == Some("1"), query.get("test_message").unwrap_or_default()))
    })
}

#[component]
fn ConnectionItem(connection: SsoConnection, actions: Actions) -> impl IntoView {
    let key = connection.id.to_string();
    let heading = format!("connection-{key}-heading");
    let (state, class) =
        if connection.enabled { ("Enabled", "status-accepted") } else { ("Disabled", "status-revoked") };
    let ids = {
        let (org, key) = (connection.organization_id.to_string(), key.clone());
        move || {
            view! {
                <input type="hidden" name="org_id" value=org.clone()/>
                <input type="hidden" name="connection_id" value=key.clone()/>
            }
        }
    };
    let settings = match (&connection.oidc, &connection.ldap) {
        (Some(oidc), _) => {
            let provider = match oidc.preset {
                Some(OidcPreset::Google) => "Google",
                Some(OidcPreset::Microsoft) => "Microsoft",
                None => "Any OpenID provider",
            };
            view! {
                <dt>"Provider"</dt><dd>{provider}</dd>
                <dt>"Issuer"</dt><dd><code>{oidc.issuer.clone()}</code></dd>
                <dt>"Client id"</dt><dd><code>{oidc.client_id.clone()}</code></dd>
            }
            .into_any()
        }
        (None, Some(ldap)) => view! {
            <dt>"Directory"</dt><dd><code>{ldap.url.clone()}</code></dd>
            <dt>"Bind DN"</dt><dd><code>{ldap.bind_dn.clone()}</code></dd>
            <dt>"Base DN"</dt><dd><code>{ldap.base_dn.clone()}</code></dd>
            <dt>"User filter"</dt><dd><code>{ldap.user_filter.clone()}</code></dd>
            <dt>"Group attribute"</dt><dd><code>{ldap.group_attribute.clone()}</code></dd>
        }
        .into_any(),
        (None, None) => match &connection.saml {
            Some(saml) => view! {
                <dt>"Identity provider"</dt><dd><code>{saml.idp_entity_id.clone()}</code></dd>
                <dt>"Its metadata"</dt>
                <dd>{match saml.idp_metadata_url.clone() {
                    Some(url) => view! { <code>{url}</code> }.into_any(),
                    None => view! { <span class="muted">"Pasted as XML"</span> }.into_any(),
                }}</dd>
                <dt>"Its sign-in URL"</dt><dd><code>{saml.idp_sso_url.clone()}</code></dd>
                <dt>"Sign-ins it starts"</dt><dd>{if saml.allow_idp_initiated { "Accepted" } else { "Refused" }}</dd>
            }
            .into_any(),
            None => ().into_any(),
        },
    };
    let mapping = if connection.role_mapping.is_empty() {
        view! { <span class="muted">"None: everyone gets the default role"</span> }.into_any()
    } else {
        let rows = connection
            .role_mapping
            .iter()
            .map(|m| view! { <li><code>{m.group.clone()}</code>" → "{m.role.label()}</li> })
            .collect_view();
        view! { <ul class="mappings">{rows}</ul> }.into_any()
    };
    let redirect = connection.redirect_uri.clone().map(|uri| {
        view! {
            <dt>"Redirect URI"</dt>
            <dd><CopyValue id=format!("connection-{key}-redirect") label=format!("Redirect URI for {}", connection.name) value=uri/></dd>
        }
    });
    let saml = connection.saml.clone().map(|saml| {
        view! {
            <dt>"Entity id (metadata URL)"</dt>
            <dd><CopyValue id=format!("connection-{key}-entity") label=format!("SAML entity id for {}", connection.name)
                value=saml.sp_entity_id/></dd>
            <dt>"ACS URL"</dt>
            <dd><CopyValue id=format!("connection-{key}-acs") label=format!("Assertion consumer service URL for {}", connection.name)
                value=saml.acs_url/></dd>
        }
    });
    let result = use_test_result(key.clone());
    let testing = {
        let key = key.clone();
        let input = actions.test.input();
        move || input.with(|i| i.as_ref().is_some_and(|i| i.connection_id == key))
    };
    let status_view = move || {
        if testing() {
            return Some(view! { <p class="test-result">"Testing…"</p> }.into_any());
        }
        result.get().map(|(ok, message)| {
            let (class, lead) =
                if ok { ("test-result ok", "Test passed: ") } else { ("test-result failed", "Test failed: ") };
            view! { <p class=class><strong>{lead}</strong>{message}</p> }.into_any()
        })
    };
    let credentials = (connection.kind == ConnectionKind::Ldap).then(|| {
        let (user_id, password_id) = (format!("connection-{key}-test-user"), format!("connection-{key}-test-password"));
        view! {
            <fieldset class="test-credentials">
                <legend>"Also try someone's sign-in (optional)"</legend>
                <div class="field">
                    <label for=user_id.clone()>"Directory username"</label>
                    <input id=user_id type="text" name="username" autocomplete="off"/>
                </div>
                <div class="field">
                    <label for=password_id.clone()>"Their password"</label>
                    <input id=password_id type="password" name="password" autocomplete="off"/>
                </div>
            </fieldset>
        }
    });
    let (toggle_label, toggle_to) = if connection.enabled { ("Disable", "false") } else { ("Enable", "true") };
    let refresh = connection.saml.as_ref().is_some_and(|saml| saml.idp_metadata_url.is_some()).then(|| {
        let ids = ids.clone();
        view! {
            <ActionForm action=actions.refresh>{ids()}
                <button type="submit" class="button secondary small">"Refresh metadata"</button></ActionForm>
        }
    });
    let (test_ids, toggle_ids, delete_ids) = (ids.clone(), ids.clone(), ids);
    view! {
        <li class="sso-item" id=format!("connection-{key}")>
            <h3 id=heading>{connection.name.clone()} " " <span class="badge">{kind_label(connection.kind)}</span>
                " " <span class=format!("badge {class}")>{state}</span></h3>
            <dl class="facts">
                {settings}
                <dt>"Default role"</dt><dd>{connection.default_role.label()}</dd>
                <dt>"Role mapping"</dt><dd>{mapping}</dd>
            </dl>
            <h4>"Copy into your identity provider"</h4>
            <dl class="facts copy-facts">
                {redirect}
                {saml}
                <dt>"Sign-in URL"</dt>
                <dd><CopyValue id=format!("connection-{key}-sign-in") label=format!("Sign-in URL for {}", connection.name)
                    value=connection.sign_in_url.clone()/></dd>
            </dl>
            <div class="test-status" role="status" aria-live="polite">{status_view}</div>
            <ActionForm action=actions.test attr:class="sso-test">
                {test_ids()}
                {credentials}
                <button type="submit" class="button secondary small">"Test connection"</button>
            </ActionForm>
            {(connection.kind != ConnectionKind::Ldap).then(|| view! {
                <p class="hint">
                    <a href=format!("/sso/start?connection={key}&trial=1")>"Try a sign-in through the provider"</a>
                    " — a real round trip; the result shows here and nobody is signed in."
                </p>
            })}
            <div class="row-actions">
                <ActionForm action=actions.toggle>{toggle_ids()}<input type="hidden" name="enabled" value=toggle_to/>
                    <button type="submit" class="button secondary small">{toggle_label}</button></ActionForm>
                {refresh}
                <Confirm label="Delete" small=true warning={format!("Nobody can sign in through “{}” any more, and domains routed to it go back to password sign-in.", connection.name)}>
                    <ActionForm action=actions.delete>{delete_ids()}
                        <button type="submit" class="button danger small">"Yes, delete"</button></ActionForm>
                </Confirm>
            </div>
        </li>
    }
}
