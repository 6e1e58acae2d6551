//! `/orgs/:id/settings`: name, slug, colour and logo; the plan and its limits; deleting the organization.
use super::{
    can, guarded, one_at_a_time, org_page,
    overview::{grouped, status_label, tier_label},
    reload_org_after, Logo, RowAction, Section,
};
use crate::app::components::form::{action_error, ActionError, Field, FormAlert};
use crate::rpc::orgs::{DeleteOrg, UpdateOrgSettings};
use crate::shared::{
    orgs::{parse_color, Organization},
    roles::Permission,
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The picker's colour while the text field holds none (the dashboard's own blue).
const DEFAULT_COLOR: &str = "#2f5bd3";

#[component]
pub fn OrgSettingsPage() -> impl IntoView {
    org_page(Section::Settings, "Settings", |org| {
        guarded(org, Permission::OrgWrite, "changing settings", |org| view! { <Settings org/> }.into_any())
    })
}

#[component]
fn Settings(org: Organization) -> impl IntoView {
    let save = ServerAction::<UpdateOrgSettings>::new();
    // A new name or colour shows in the frame at once.
    reload_org_after(save);
    let error = action_error(save);
    let delete = ServerAction::<DeleteOrg>::new();
    one_at_a_time(vec![RowAction::of(save), RowAction::of(delete)]);
    let org_id = org.id.to_string();
    let logo = {
        let (org_id, name, url) = (org_id.clone(), org.name.clone(), org.settings.logo_url.clone());
        view! { <LogoCard org_id name url/> }
    };
    let danger = can(&org, Permission::OrgDelete).then(|| {
        let (org_id, name, slug) = (org_id.clone(), org.name.clone(), org.slug.clone());
        view! { <DangerZone org_id name slug delete/> }
    });
    view! {
        <div class="grid">
            <section class="card" aria-labelledby="general-heading">
                <h2 id="general-heading">"General"</h2>
                <ActionForm action=save>
                    <FormAlert error fields=vec!["name", "slug", "primary_color"]/>
                    <input type="hidden" name="org_id" value=org_id/>
                    <Field name="name" label="Name" autocomplete="organization" value=org.name.clone() error/>
                    <Field name="slug" label="Slug" autocomplete="off" value=org.slug.clone()
                        hint="3–48 lower-case letters, digits and single hyphens." error/>
                    <ColorField value=org.settings.primary_color.clone().unwrap_or_default() error/>
                    <button type="submit" class="button">"Save settings"</button>
                </ActionForm>
            </section>
            <section class="card" aria-labelledby="plan-heading">
                <h2 id="plan-heading">"Plan and limits"</h2>
                <dl class="facts">
                    <dt>"Plan"</dt><dd>{tier_label(org.subscription.tier)}</dd>
                    <dt>"Status"</dt><dd>{status_label(org.subscription.status)}</dd>
                    <dt>"Users"</dt><dd>{format!("{} of {}", org.member_count, grouped(org.limits.max_users))}</dd>
                    <dt>"API calls per hour"</dt><dd>{grouped(org.limits.max_api_calls_per_hour)}</dd>
                </dl>
                <p class="hint">"Members and open invitations together may not exceed the user limit."</p>
            </section>
        </div>
        {logo}
        {danger}
    }
}

/// A text field for `#rrggbb` (works without JavaScript; empty means the default) with a colour
/// picker beside it once the page is interactive.
#[component]
fn ColorField(value: String, error: ActionError) -> impl IntoView {
    let color = RwSignal::new(value.clone());
    let picker = move || parse_color(&color.get()).unwrap_or_else(|_| DEFAULT_COLOR.to_owned());
    let field_error = move || error.get().filter(|e| e.field() == Some("primary_color")).map(|e| e.message);
    view! {
        <div class="field">
            <label for="field-primary_color">"Primary colour"</label>
            <p id="field-primary_color-hint" class="hint">
                "A colour like #2f5bd3 for the accent bar (and links and buttons when it is dark enough to read on white). Leave empty for the default."
            </p>
            <div class="color-row">
                <input type="color" class="color-picker" aria-label="Pick the primary colour" value=untrack(picker)
                    prop:value=picker on:input=move |ev| color.set(event_target_value(&ev))/>
                <input id="field-primary_color" type="text" name="primary_color" value=value placeholder=DEFAULT_COLOR
                    prop:value=move || color.get() on:input=move |ev| color.set(event_target_value(&ev))
                    autocomplete="off" spellcheck="false" aria-describedby="field-primary_color-hint field-primary_color-error"
                    aria-invalid=move || field_error().is_some().to_string()/>
            </div>
            {move || field_error().map(|m| view! { <p id="field-primary_color-error" class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

#[component]
fn DangerZone(org_id: String, name: String, slug: String, delete: ServerAction<DeleteOrg>) -> impl IntoView {
    let error = action_error(delete);
    view! {
        <section class="card danger-zone" aria-labelledby="danger-heading">
            <h2 id="danger-heading">"Danger zone"</h2>
            <p>{format!("Deleting {name} ends every member's access and removes its memberships and invitations at once. This cannot be undone. Its audit entries are kept, with a final record in the platform's log.")}</p>
            <details class="confirm" open=move || error.get().is_some()>
                <summary class="button danger" role="button">"Delete organization"</summary>
                <ActionForm action=delete>
                    <FormAlert error fields=vec!["confirm"]/>
                    <input type="hidden" name="org_id" value=org_id/>
                    <p>"To confirm, type the organization's slug: " <code>{slug}</code></p>
                    <Field name="confirm" label="Slug" autocomplete="off" error/>
                    <button type="submit" class="button danger">"Delete this organization"</button>
                </ActionForm>
            </details>
        </section>
    }
}

/// Uploading a logo is a plain multipart form to `/orgs/:id/logo` (server functions carry no
/// files); it redirects back here with `?notice=logo_saved` or `?logo_error=...`.
#[component]
fn LogoCard(org_id: String, name: String, url: Option<String>) -> impl IntoView {
    let query = use_query_map();
    let error = move || query.read().get("logo_error").filter(|e| !e.is_empty());
    let action = format!("/orgs/{org_id}/logo");
    let initial = name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default();
    let has_logo = url.is_some();
    view! {
        <section class="card" aria-labelledby="logo-heading">
            <h2 id="logo-heading">"Logo"</h2>
            <div class="logo-row">
                <Logo url initial/>
                <p class="hint">{if has_logo { "Shown next to the name and on invitation pages." } else { "No logo yet: the initial is shown instead." }}</p>
            </div>
            <form method="post" action=action.clone() enctype="multipart/form-data" class="stack-narrow">
                {move || error().map(|m| view! { <p id="field-logo-error" class="field-error" role="alert">{m}</p> })}
                <div class="field">
                    <label for="field-logo">"Image"</label>
                    <p id="field-logo-hint" class="hint">"PNG, JPEG or WebP, at most 512 KB. It is scaled to fit 256 × 256 pixels."</p>
                    <input id="field-logo" type="file" name="logo" accept="image/png,image/jpeg,image/webp" required=true
                        aria-describedby="field-logo-hint field-logo-error" aria-invalid=move || error().is_some().to_string()/>
                </div>
                <button type="submit" class="button">"Upload logo"</button>
            </form>
            {has_logo.then(|| view! {
                <form method="post" action=action enctype="multipart/form-data" class="logo-remove">
                    <input type="hidden" name="remove" value="1"/>
                    <button type="submit" class="button secondary">"Remove logo"</button>
                </form>
            })}
        </section>
    }
}
