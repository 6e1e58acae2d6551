//! The guided forms that add an OIDC, LDAP or SAML connection.
use super::Actions;
use crate::app::components::form::{ActionError, FormAlert, Input, Select, TextArea};
use crate::app::pages::orgs::{reset_on_success, use_org_id, CopyValue, Loaded, SectionError};
use crate::rpc::sso::{CreateLdapConnection, CreateOidcConnection, CreateSamlConnection};
use crate::shared::roles::Role;
use leptos::prelude::*;

#[component]
pub(super) fn AddConnection(actions: Actions, redirect: Loaded<String>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="add-connection-heading">
            <h2 id="add-connection-heading">"Add a connection"</h2>
            <div class="grid">
                <OidcForm create=actions.oidc redirect/>
                <LdapForm create=actions.ldap/>
                <SamlForm create=actions.saml/>
            </div>
        </section>
    }
}

/// The roles single sign-on may give (never Owner), Member first selected.
fn role_options() -> impl IntoView {
    [Role::Viewer, Role::Member, Role::Admin]
        .into_iter()
        .map(|r| view! { <option value=r.as_str() selected=r == Role::Member>{r.label()}</option> })
        .collect_view()
}

const MAPPING_HINT: &str = "One per line: group = role, with role viewer, member or admin. The highest matching role wins; people in no listed group get the default role.";

#[component]
fn OidcForm(create: ServerAction<CreateOidcConnection>, redirect: Loaded<String>) -> impl IntoView {
    let id = use_org_id();
    let value = create.value();
    let error: ActionError = Signal::derive(move || value.get().and_then(Result::err));
    let form = reset_on_success(create);
    let fields =
        vec!["name", "preset", "issuer", "tenant", "client_id", "client_secret", "default_role", "role_mapping"];
    view! {
        <div class="sso-new" aria-labelledby="new-oidc-heading" role="group">
            <h3 id="new-oidc-heading">"OpenID Connect"</h3>
            <p>"Google Workspace, Microsoft Entra ID or any OpenID provider. First register Gatehouse as a web application at the provider, with this redirect URI:"</p>
            <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match redirect.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(uri)) => view! { <CopyValue id="new-oidc-redirect".to_owned() label="Redirect URI to register".to_owned() value=uri/> }.into_any(),
                        Err(error) => view! { <SectionError error/> }.into_any(),
                    }
                })}
            </Transition>
            <p>"Then copy the client id and secret the provider gives you here."</p>
            <ActionForm action=create node_ref=form attr:class="key-form">
                <FormAlert error fields=fields/>
                <input type="hidden" name="org_id" value=move || id.get()/>
                <Input form="oidc" name="name" label="Name" placeholder="Company Google" required=true error/>
                <Select form="oidc" name="preset" label="Provider" error>
                    <option value="" selected>"Generic issuer"</option>
                    <option value="google">"Google"</option>
                    <option value="microsoft">"Microsoft"</option>
                </Select>
                <Input form="oidc" name="issuer" label="Issuer URL (generic issuer only)" kind="url" placeholder="https://idp.example.com"
                    hint="Its discovery document is at {issuer}/.well-known/openid-configuration." error/>
                <Input form="oidc" name="tenant" label="Tenant (Microsoft only, optional)"
                    hint="A tenant id or domain to accept only that tenant; empty accepts any work account." error/>
                <Input form="oidc" name="client_id" label="Client id" required=true error/>
                <Input form="oidc" name="client_secret" label="Client secret" kind="password" required=true
                    hint="Stored encrypted; it is never shown again." error/>
                <Select form="oidc" name="default_role" label="Default role" error>{role_options()}</Select>
                <TextArea form="oidc" name="role_mapping" label="Role mapping (optional)" placeholder="engineering = member\ngatehouse-admins = admin"
                    hint=MAPPING_HINT error/>
                <button type="submit" class="button">"Add OIDC connection"</button>
            </ActionForm>
        </div>
    }
}

#[component]
fn LdapForm(create: ServerAction<CreateLdapConnection>) -> impl IntoView {
    let id = use_org_id();
    let value = create.value();
    let error: ActionError = Signal::derive(move || value.get().and_then(Result::err));
    let form = reset_on_success(create);
    let fields = vec![
        "name",
        "url",
        "bind_dn",
        "bind_password",
        "base_dn",
        "user_filter",
        "group_attribute",
        "default_role",
        "role_mapping",
    ];
    view! {
        <div class="sso-new" aria-labelledby="new-ldap-heading" role="group">
            <h3 id="new-ldap-heading">"LDAP directory"</h3>
            <p>"People type their directory username and password on a Gatehouse page; a service account finds them in the directory."</p>
            <ActionForm action=create node_ref=form attr:class="key-form">
                <FormAlert error fields=fields/>
                <input type="hidden" name="org_id" value=move || id.get()/>
                <Input form="ldap" name="name" label="Name" placeholder="Head office directory" required=true error/>
                <Input form="ldap" name="url" label="Directory URL" placeholder="ldaps://ldap.example.com" required=true
                    hint="ldaps://, or ldap:// (upgraded with StartTLS)." error/>
                <Input form="ldap" name="bind_dn" label="Service account DN" placeholder="cn=gatehouse,ou=services,dc=example,dc=com" required=true error/>
                <Input form="ldap" name="bind_password" label="Service account password" kind="password" required=true
                    hint="Stored encrypted; it is never shown again." error/>
                <Input form="ldap" name="base_dn" label="Base DN to search" placeholder="ou=people,dc=example,dc=com" required=true error/>
                <Input form="ldap" name="user_filter" label="User filter" value="(uid={username})".to_owned()
                    hint="{username} is replaced by what the person types (escaped)." error/>
                <Input form="ldap" name="group_attribute" label="Group attribute" value="memberOf".to_owned() error/>
                <Select form="ldap" name="default_role" label="Default role" error>{role_options()}</Select>
                <TextArea form="ldap" name="role_mapping" label="Role mapping (optional)" placeholder="cn=gatehouse-admins,ou=groups,dc=example,dc=com = admin"
                    hint=MAPPING_HINT error/>
                <button type="submit" class="button">"Add LDAP connection"</button>
            </ActionForm>
        </div>
    }
}

#[component]
fn SamlForm(create: ServerAction<CreateSamlConnection>) -> impl IntoView {
    let id = use_org_id();
    let value = create.value();
    let error: ActionError = Signal::derive(move || value.get().and_then(Result::err));
    let form = reset_on_success(create);
    let fields = vec!["name", "idp_metadata_url", "idp_metadata_xml", "default_role", "role_mapping"];
    view! {
        <div class="sso-new" aria-labelledby="new-saml-heading" role="group">
            <h3 id="new-saml-heading">"SAML 2.0"</h3>
            <p>"Okta, Entra ID, ADFS, Keycloak or any SAML identity provider. Give its metadata; once the connection exists, this page shows the entity id and ACS URL to enter at the provider."</p>
            <ActionForm action=create node_ref=form attr:class="key-form">
                <FormAlert error fields=fields/>
                <input type="hidden" name="org_id" value=move || id.get()/>
                <Input form="saml" name="name" label="Name" placeholder="Company Okta" required=true error/>
                <Input form="saml" name="idp_metadata_url" label="IdP metadata URL" kind="url" placeholder="https://idp.example.com/saml/metadata"
                    hint="Fetched now, and again when you refresh it." error/>
                <TextArea form="saml" name="idp_metadata_xml" label="…or the metadata XML" placeholder="<EntityDescriptor …>"
                    hint="It must include the IdP's signing certificate: only signed assertions are accepted." error/>
                <div class="field checkbox">
                    <input type="checkbox" id="saml-allow_idp_initiated" name="allow_idp_initiated" value="on"/>
                    <label for="saml-allow_idp_initiated">"Allow sign-in started from the IdP's portal (IdP-initiated)"</label>
                </div>
                <Select form="saml" name="default_role" label="Default role" error>{role_options()}</Select>
                <TextArea form="saml" name="role_mapping" label="Role mapping (optional)" placeholder="gatehouse-admins = admin"
                    hint=MAPPING_HINT error/>
                <button type="submit" class="button">"Add SAML connection"</button>
            </ActionForm>
        </div>
    }
}
