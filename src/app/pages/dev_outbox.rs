//! `/dev/outbox`: mail "sent" while no SMTP server is configured, readable from this machine only.
use crate::rpc::dev_outbox::dev_outbox;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn DevOutboxPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("cursor");
    let mail = Resource::new(cursor, dev_outbox);
    view! {
        <Title text="Development outbox"/>
        <h1>"Development outbox"</h1>
        <p class="banner warning">"Development only: no SMTP server is configured (GATEHOUSE_SMTP_URL), so email is kept here instead of being sent. This page answers only requests from this machine."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match mail.await {
                    Ok(page) if page.data.is_empty() => view! { <p class="empty">"No email yet. Sign up or ask for a password reset to see one here."</p> }.into_any(),
                    Ok(page) => view! {
                        {page.data.into_iter().map(|m| view! {
                            <article class="card mail">
                                <h2>{m.subject}</h2>
                                <p class="meta">"To " {m.to} " · " {m.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string()}</p>
                                <pre>{m.body}</pre>
                            </article>
                        }).collect_view()}
                        {page.next_cursor.map(|next| view! { <nav class="pager" aria-label="Outbox pages"><a href=format!("/dev/outbox?cursor={next}")>"Older messages"</a></nav> })}
                    }.into_any(),
                    Err(_) => view! { <crate::app::pages::not_found::NotFound/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
