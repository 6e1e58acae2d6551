use crate::app::components::layout::use_current_user;
use leptos::prelude::*;
use leptos_router::components::Redirect;

/// Signed-in people go to their account; visitors see what Gatehouse is.
#[component]
pub fn HomePage() -> impl IntoView {
    let me = use_current_user();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(_)) => view! { <Redirect path="/account"/> }.into_any(),
                    _ => view! {
                        <section class="hero">
                            <h1>"Gatehouse"</h1>
                            <p class="lead">"Organizations, roles, single sign-on, API keys, webhooks and a tamper-evident audit log for your product — in one self-hosted binary."</p>
                            <p class="actions">
                                <a class="button" href="/signup">"Create an account"</a>
                                <a class="button secondary" href="/login">"Sign in"</a>
                            </p>
                        </section>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
