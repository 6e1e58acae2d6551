//! `/orgs` and `/orgs/:id/...`: the organizations of the signed-in user. Every page of one
//! organization shares a frame (its name, colour, the user's role and a sub-navigation) and shows
//! only the controls the user's permissions allow; the server refuses the rest anyway.
pub mod api_keys;
pub mod audit;
pub mod domains;
pub mod invitations;
pub mod invite;
pub mod list;
pub mod members;
pub mod overview;
pub mod settings;
pub mod sso;
pub mod usage;
pub mod webhooks;

use crate::app::{
    components::{form::ActionError, layout::Notice},
    pages::not_found::NotFound,
};
use crate::rpc::orgs::org;
use crate::shared::{
    error::{AppError, ErrorKind},
    orgs::{parse_color, Organization},
    roles::Permission,
    sso::ConnectionKind,
};
use chrono::{DateTime, Utc};
use leptos::{html, prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_params_map, use_query_map},
};
use std::sync::Arc;

/// The pages of one organization, in the order of its sub-navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Members,
    Invitations,
    Audit,
    ApiKeys,
    Webhooks,
    Sso,
    Usage,
    Settings,
}

impl Section {
    const ALL: [Section; 9] = [
        Section::Overview,
        Section::Members,
        Section::Invitations,
        Section::Audit,
        Section::ApiKeys,
        Section::Webhooks,
        Section::Sso,
        Section::Usage,
        Section::Settings,
    ];

    fn label(self) -> &'static str {
        match self {
            Section::Overview => "Overview",
            Section::Members => "Members",
            Section::Invitations => "Invitations",
            Section::Audit => "Audit log",
            Section::ApiKeys => "API keys",
            Section::Webhooks => "Webhooks",
            Section::Sso => "SSO",
            Section::Usage => "Usage",
            Section::Settings => "Settings",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Section::Overview => "",
            Section::Members => "/members",
            Section::Invitations => "/invitations",
            Section::Audit => "/audit",
            Section::ApiKeys => "/api-keys",
            Section::Webhooks => "/webhooks",
            Section::Sso => "/sso",
            Section::Usage => "/usage",
            Section::Settings => "/settings",
        }
    }

    /// Members is always listed: it is also where one leaves the organization.
    fn shown_to(self, org: &Organization) -> bool {
        match self {
            Section::Overview | Section::Members | Section::Usage => true,
            Section::Invitations => can(org, Permission::InvitationsWrite),
            Section::Audit => can(org, Permission::AuditRead),
            Section::ApiKeys => can(org, Permission::ApiKeysWrite),
            Section::Webhooks => can(org, Permission::WebhooksWrite),
            Section::Sso => can(org, Permission::SsoWrite),
            Section::Settings => can(org, Permission::OrgWrite),
        }
    }
}

/// May the signed-in user do `permission` in `org`?
pub fn can(org: &Organization, permission: Permission) -> bool {
    org.my_permissions.contains(&permission)
}

/// The page when the caller's role grants `permission`; otherwise a 403 saying the role does not
/// include `what` ("managing webhooks").
pub fn guarded(
    org: Organization,
    permission: Permission,
    what: &str,
    page: impl FnOnce(Organization) -> AnyView,
) -> AnyView {
    if can(&org, permission) {
        page(org)
    } else {
        set_status(403);
        let message = format!("Your role here does not include {what}.");
        view! { <p class="alert" role="alert">{message}</p> }.into_any()
    }
}

/// The `:id` of the path.
pub fn use_org_id() -> Signal<String> {
    let params = use_params_map();
    Signal::derive(move || params.read().get("id").unwrap_or_default())
}

/// Asks the frame to load the organization again: its name, colour or the user's role changed.
/// Other changes leave the frame (and the state of the page inside it) alone.
#[derive(Debug, Clone, Copy)]
pub struct ReloadOrg(RwSignal<u32>);

/// Reloads the organization of the frame each time `action` succeeds.
pub fn reload_org_after<S>(action: ServerAction<S>)
where
    S: ServerFn<Output = (), Error = AppError> + Clone + Send + Sync + 'static,
{
    let Some(ReloadOrg(reload)) = use_context::<ReloadOrg>() else { return };
    let value = action.value();
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(()))) {
            reload.update(|n| *n += 1);
        }
    });
}

/// What `OrgFrameData::load_if` gives: `None` when the role may not see it.
pub type Loaded<T> = Resource<Result<Option<T>, AppError>>;

/// The organization of the path, loaded once per page: the frame shows it, and a page's own
/// loaders await it to skip what the user may not see.
///
/// A page creates its resources beside this one, at its top, never inside a `<Transition>`: on the
/// server Leptos walks a boundary's children more than once, so a resource created in there is
/// created (and its query run) again on every walk.
#[derive(Clone, Copy)]
pub struct OrgFrameData {
    pub id: Signal<String>,
    org: Resource<Result<Organization, AppError>>,
}

impl OrgFrameData {
    pub fn load() -> Self {
        let id = use_org_id();
        let reload = RwSignal::new(0u32);
        provide_context(ReloadOrg(reload));
        let org = Resource::new(move || (id.get(), reload.get()), |(id, _)| org(id));
        OrgFrameData { id, org }
    }

    /// May the signed-in user do `permission` here? False when the organization cannot be loaded.
    pub async fn permits(self, permission: Permission) -> bool {
        matches!(self.org.await, Ok(ref org) if can(org, permission))
    }

    /// A resource that asks the server only when the user may do `permission` (`None` otherwise),
    /// so a role that cannot see a section causes no refused request.
    pub fn load_if<S, T, Fut>(
        self,
        permission: Permission,
        source: impl Fn() -> S + Send + Sync + 'static,
        fetch: impl Fn(S) -> Fut + Clone + Send + Sync + 'static,
    ) -> Loaded<T>
    where
        S: PartialEq + Clone + Send + Sync + 'static,
        T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
    {
        Resource::new(source, move |key| {
            let fetch = fetch.clone();
            async move {
                if !self.permits(permission).await {
                    return Ok(None);
                }
                fetch(key).await.map(Some)
            }
        })
    }
}

/// Renders one page of an organization inside its frame, or what to do when it cannot be shown
/// (sign in, 404 for an organization that is not the user's).
pub fn org_page(section: Section, title: &'static str, page: fn(Organization) -> AnyView) -> impl IntoView {
    org_page_with(OrgFrameData::load(), section, title, page)
}

/// `org_page` for a page that loaded `frame` itself, to create its own resources beside it.
pub fn org_page_with(
    frame: OrgFrameData,
    section: Section,
    title: &'static str,
    page: impl Fn(Organization) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let org = frame.org;
    view! {
        <Transition fallback=|| view! { <p class="empty">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match org.await {
                        Ok(org) => {
                            let body = page(org.clone());
                            view! { <OrgFrame org section title body/> }.into_any()
                        }
                        Err(error) => view! { <LoadError error/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

#[component]
fn OrgFrame(org: Organization, section: Section, title: &'static str, body: AnyView) -> impl IntoView {
    let base = format!("/orgs/{}", org.id);
    let page_title = if section == Section::Overview { org.name.clone() } else { format!("{title} · {}", org.name) };
    let links = Section::ALL
        .into_iter()
        .filter(|s| s.shown_to(&org))
        .map(|s| {
            let current = (s == section).then_some("page");
            view! { <a href=format!("{base}{}", s.path()) aria-current=current>{s.label()}</a> }
        })
        .collect_view();
    let initial = org.name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default();
    let style = brand_style(org.settings.primary_color.as_deref());
    view! {
        <Title text=page_title/>
        <div class="org" style=style>
            <header class="org-header">
                <Logo url=org.settings.logo_url.clone() initial/>
                <div>
                    <p class="crumb"><a href="/orgs">"Organizations"</a></p>
                    <h1>{org.name.clone()}</h1>
                    <p class="org-meta">
                        <span class=format!("badge role-{}", org.my_role.as_str())>{org.my_role.label()}</span>
                        " · " <code>{org.slug.clone()}</code>
                    </p>
                </div>
            </header>
            <nav class="subnav" aria-label="Organization">{links}</nav>
            {(section != Section::Overview).then(|| view! { <h2 class="page-heading">{title}</h2> })}
            <Notice/>
            {body}
        </div>
    }
}

/// The organization's logo (served by this site, or an https address), or its initial on a tint
/// of its colour.
#[component]
pub fn Logo(url: Option<String>, initial: String) -> impl IntoView {
    match url.filter(|u| u.starts_with("https://") || (u.starts_with('/') && !u.starts_with("//"))) {
        Some(url) => view! { <img class="org-logo" src=url alt=""/> }.into_any(),
        None => view! { <span class="org-logo" aria-hidden="true">{initial}</span> }.into_any(),
    }
}

/// Inline custom properties for an organization's colour: always the accent bar, and links and
/// buttons too when the colour is dark enough to read on white (WCAG 4.5:1).
pub fn brand_style(color: Option<&str>) -> String {
    let Some(color) = color.and_then(|c| parse_color(c).ok()) else {
        return String::new();
    };
    let mut style = format!("--org-accent: {color};");
    if contrast_with_white(&color) >= 4.5 {
        style.push_str(&format!(" --brand: {color}; --brand-strong: color-mix(in srgb, {color} 80%, black);"));
    }
    style
}

/// WCAG contrast ratio of a `#rrggbb` colour against white.
fn contrast_with_white(color: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&color[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    1.05 / (luminance + 0.05)
}

/// Gives the server-rendered page the error's HTTP status (404 for another organization's page).
pub fn set_status(status: u16) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
    }
    #[cfg(not(feature = "ssr"))]
    let _ = status;
}

/// A page's data could not be loaded: sign in, a real 404, or the reason with its status.
#[component]
pub fn LoadError(error: AppError) -> impl IntoView {
    match error.kind {
        ErrorKind::Unauthenticated => view! { <Redirect path="/login"/> }.into_any(),
        ErrorKind::NotFound => view! { <NotFound/> }.into_any(),
        _ => {
            set_status(error.status());
            view! { <p class="alert" role="alert">{error.message}</p> }.into_any()
        }
    }
}

/// A section's own data failed to load (for example a role without the permission for it).
#[component]
pub fn SectionError(error: AppError) -> impl IntoView {
    set_status(error.status());
    view! { <p class="alert" role="alert">{error.message}</p> }
}

/// Row forms of one kind share a single action, so an error (which, without JavaScript, comes back
/// in the URL) shows once above the table rather than in every row. The alert shows the error of
/// the latest attempt among `actions` (see `one_at_a_time`).
pub fn latest_error(actions: Vec<RowAction>) -> ActionError {
    let actions = one_at_a_time(actions);
    Signal::derive(move || actions.iter().find_map(|a| a.error.get()))
}

/// Starting one of `actions` clears the others' results, so a page never shows an old error next
/// to the outcome of a newer attempt.
pub fn one_at_a_time(actions: Vec<RowAction>) -> Arc<Vec<RowAction>> {
    let actions = Arc::new(actions);
    for (i, action) in actions.iter().enumerate() {
        let (pending, others) = (action.pending, actions.clone());
        Effect::new(move |_| {
            if pending.get() {
                others.iter().enumerate().filter(|(j, _)| *j != i).for_each(|(_, other)| (other.clear)());
            }
        });
    }
    actions
}

/// One server action, as `latest_error` and `one_at_a_time` see it.
pub struct RowAction {
    pending: Signal<bool>,
    error: ActionError,
    clear: Arc<dyn Fn() + Send + Sync>,
}

impl RowAction {
    pub fn of<S>(action: ServerAction<S>) -> RowAction
    where
        S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
        S::Output: Clone + Send + Sync + 'static,
    {
        let value = action.value();
        RowAction {
            pending: action.pending().into(),
            error: Signal::derive(move || value.get().and_then(Result::err)),
            clear: Arc::new(move || value.set(None)),
        }
    }
}

/// A labelled input that may be left empty (`Field` always requires a value).
#[component]
pub fn OptionalField(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional, into)] hint: String,
    #[prop(optional)] placeholder: &'static str,
    error: ActionError,
) -> impl IntoView {
    let id = format!("field-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let field_error = move || error.get().filter(|e| e.field() == Some(name)).map(|e| e.message);
    let described_by = if hint.is_empty() { error_id.clone() } else { format!("{hint_id} {error_id}") };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {(!hint.is_empty()).then(|| view! { <p id=hint_id class="hint">{hint.clone()}</p> })}
            <input id=id type=kind name=name value=value placeholder=placeholder aria-describedby=described_by
                aria-invalid=move || field_error().is_some().to_string()/>
            {move || field_error().map(|m| view! { <p id=error_id.clone() class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

pub use crate::shared::values::enc;

/// A link to a page of a list: `base` already holds the filters (ending in `?` or `&`).
pub fn page_link(base: &str, cursor: &str) -> String {
    format!("{base}cursor={}", enc(cursor))
}

/// Where a form whose answer is a secret shown once posts without JavaScript (its submit button's
/// `formaction`): `server::endpoints::forms` shows the secret in its answer. With scripts the form
/// calls the server function `operation` as usual.
pub fn reveal(org: impl std::fmt::Display, operation: &str) -> String {
    format!("/orgs/{org}/reveal/{operation}")
}

pub fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// A read-only text to copy (a link or secret shown once), selected on focus, with a copy button.
#[component]
pub fn CopyField(id: &'static str, label: &'static str, value: String, button: &'static str) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = value.clone();
    view! {
        <div class="copy-row">
            <label for=id class="visually-hidden">{label}</label>
            <input id=id type="text" readonly value=value on:focus=|ev| {
                event_target::<leptos::web_sys::HtmlInputElement>(&ev).select();
            }/>
            <button type="button" class="button secondary" on:click=move |_| copied.set(copy_to_clipboard(&text))>
                {move || if copied.get() { "Copied" } else { button }}
            </button>
        </div>
    }
}

/// The SSO page's address with the given list cursors (the other list keeps its page).
pub fn sso_link(org_id: &str, cursors: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> =
        cursors.iter().filter_map(|(key, value)| value.as_ref().map(|v| format!("{key}={}", enc(v)))).collect();
    if query.is_empty() {
        format!("/orgs/{org_id}/sso")
    } else {
        format!("/orgs/{org_id}/sso?{}", query.join("&"))
    }
}

/// A list cursor from the page's query (empty means none).
pub fn use_cursor(name: &'static str) -> Signal<Option<String>> {
    let query = use_query_map();
    Signal::derive(move || query.read().get(name).filter(|c| !c.is_empty()))
}

/// How a connection kind is shown.
pub fn kind_label(kind: ConnectionKind) -> &'static str {
    match kind {
        ConnectionKind::Oidc => "OIDC",
        ConnectionKind::Saml => "SAML",
        ConnectionKind::Ldap => "LDAP",
    }
}

/// Empties a form once its action succeeded (with JavaScript; without, the page is new anyway).
pub fn reset_on_success<S>(action: ServerAction<S>) -> NodeRef<html::Form>
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    let form = NodeRef::<html::Form>::new();
    let value = action.value();
    Effect::new(move |_| {
        if value.with(|v| matches!(v, Some(Ok(_)))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    form
}

/// A value to copy into another system: read-only, selected on focus, with a copy button. (The
/// label is for screen readers; the page shows what the value is next to it.)
#[component]
pub fn CopyValue(id: String, label: String, value: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = value.clone();
    view! {
        <div class="copy-row">
            <label for=id.clone() class="visually-hidden">{label.clone()}</label>
            <input id=id type="text" readonly value=value on:focus=|ev| {
                event_target::<leptos::web_sys::HtmlInputElement>(&ev).select();
            }/>
            <button type="button" class="button secondary small" on:click=move |_| copied.set(copy_to_clipboard(&text))>
                {move || if copied.get() { "Copied" } else { "Copy" }}
                <span class="visually-hidden">{format!(" {label}")}</span>
            </button>
        </div>
    }
}

/// `navigator.clipboard.writeText(text)`, looked up at run time (web-sys is built without its
/// Clipboard bindings). False when the browser offers no clipboard here.
fn copy_to_clipboard(text: &str) -> bool {
    use leptos::wasm_bindgen::{JsCast, JsValue};
    use leptos::web_sys::js_sys::{Function, Reflect};
    let get =
        |target: &JsValue, key: &str| Reflect::get(target, &JsValue::from_str(key)).ok().filter(|v| !v.is_undefined());
    let Some(window) = leptos::web_sys::window() else { return false };
    let Some(clipboard) = get(&window.into(), "navigator").and_then(|n| get(&n, "clipboard")) else { return false };
    let Some(write) = get(&clipboard, "writeText").and_then(|f| f.dyn_into::<Function>().ok()) else { return false };
    write.call1(&clipboard, &JsValue::from_str(text)).is_ok()
}

/// "First page" when not on it, "Next page" when there is one.
#[component]
pub fn Pager(label: &'static str, first: String, on_first: bool, next: Option<String>) -> impl IntoView {
    let show = !on_first || next.is_some();
    show.then(|| {
        view! {
            <nav class="pager" aria-label=label>
                {(!on_first).then(|| view! { <a href=first.clone()>"First page"</a> })}
                {next.map(|next| view! { <a href=next>"Next page"</a> })}
            </nav>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brand_colours_follow_contrast() {
        assert_eq!(brand_style(None), "");
        assert_eq!(brand_style(Some("red")), "");
        assert!(brand_style(Some("#1f43a8")).contains("--brand: #1f43a8"));
        let pale = brand_style(Some("#FFEE00"));
        assert!(pale.contains("--org-accent: #ffee00") && !pale.contains("--brand:"));
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(enc("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(page_link("/x?q=1&", "abc_-"), "/x?q=1&cursor=abc_-");
    }

    #[test]
    fn list_links_keep_the_other_list() {
        assert_eq!(sso_link("o", &[("domains_cursor", None)]), "/orgs/o/sso");
        assert_eq!(
            sso_link("o", &[("domains_cursor", Some("a b".into())), ("connections_cursor", Some("c".into()))]),
            "/orgs/o/sso?domains_cursor=a%20b&connections_cursor=c"
        );
    }
}
