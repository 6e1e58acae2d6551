//! `/orgs`: the organizations the user belongs to, and creating a new one.
use super::{page_link, LoadError, OptionalField, Pager};
use crate::app::components::{
    form::{action_error, Field, FormAlert},
    layout::Notice,
};
use crate::rpc::orgs::{my_orgs, CreateOrg};
use crate::shared::{accounts::Page, orgs::Organization};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn OrgsPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor");
    let orgs = Resource::new(cursor, my_orgs);
    view! {
        <Title text="Organizations"/>
        <Suspense fallback=|| view! { <p class="empty">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match orgs.await {
                    Ok(page) => view! { <Orgs page on_first=cursor().is_none()/> }.into_any(),
                    Err(error) => view! { <LoadError error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Orgs(page: Page<Organization>, on_first: bool) -> impl IntoView {
    let empty = on_first && page.data.is_empty();
    let rows = page
        .data
        .into_iter()
        .map(|org| {
            view! {
                <tr>
                    <td><a href=format!("/orgs/{}", org.id)><strong>{org.name}</strong></a></td>
                    <td><code>{org.slug}</code></td>
                    <td><span class=format!("badge role-{}", org.my_role.as_str())>{org.my_role.label()}</span></td>
                    <td class="num">{org.member_count}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <h1>"Organizations"</h1>
        <Notice/>
        <section class="card" aria-labelledby="orgs-heading">
            <h2 id="orgs-heading">"Your organizations"</h2>
            {if empty {
                view! { <p class="empty">"You are not a member of any organization yet. Create one below, or ask an admin of an existing one to invite you."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Name"</th><th scope="col">"Slug"</th><th scope="col">"Your role"</th><th scope="col" class="num">"Members"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                }.into_any()
            }}
            <Pager label="Organization pages" first="/orgs".to_owned() on_first
                next=page.next_cursor.map(|c| page_link("/orgs?", &c))/>
        </section>
        <CreateOrgForm/>
    }
}

#[component]
fn CreateOrgForm() -> impl IntoView {
    let create = ServerAction::<CreateOrg>::new();
    let error = action_error(create);
    view! {
        <section class="card" aria-labelledby="create-heading">
            <h2 id="create-heading">"Create organization"</h2>
            <p>"You become its Owner and can then invite people."</p>
            <ActionForm action=create attr:class="stack-narrow">
                <FormAlert error fields=vec!["name", "slug"]/>
                <Field name="name" label="Name" autocomplete="organization" error/>
                <OptionalField name="slug" label="Slug (optional)" placeholder="acme-inc"
                    hint="Its short handle: 3–48 lower-case letters, digits and hyphens. Left empty, it is made from the name."
                    error/>
                <button type="submit" class="button">"Create organization"</button>
            </ActionForm>
        </section>
    }
}
