//! The header with the signed-in user, and the notice banner driven by `?notice=`.
use crate::rpc::{accounts::current_user, auth::Logout};
use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_query_map};

/// The signed-in user, reloaded on every navigation so the header follows sign-in and sign-out.
pub fn use_current_user() -> Resource<Result<Option<crate::shared::accounts::Me>, crate::shared::error::AppError>> {
    let location = use_location();
    Resource::new(move || (location.pathname.get(), location.search.get()), |_| current_user())
}

#[component]
pub fn Header() -> impl IntoView {
    let me = use_current_user();
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="site-header">
            <nav class="container nav" aria-label="Main">
                <a class="brand" href="/">"Gatehouse"</a>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match me.await {
                            Ok(Some(user)) => view! {
                                <div class="nav-user">
                                    // Served outside the Leptos app: a full page load, not a client-side route.
                                    <a href="/docs" class="nav-link" rel="external">"Docs"</a>
                                    <a href="/orgs" class="nav-link">"Organizations"</a>
                                    <a href="/account" class="nav-link">{user.name}</a>
                                    <ActionForm action=logout attr:class="inline">
                                        <button type="submit" class="button secondary">"Sign out"</button>
                                    </ActionForm>
                                </div>
                            }.into_any(),
                            _ => view! {
                                <div class="nav-user">
                                    <a href="/docs" class="nav-link" rel="external">"Docs"</a>
                                    <a href="/login" class="nav-link">"Sign in"</a>
                                    <a href="/signup" class="button">"Sign up"</a>
                                </div>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </nav>
        </header>
    }
}

/// The success message for `?notice=CODE` after a redirect (unknown codes show nothing).
#[component]
pub fn Notice() -> impl IntoView {
    let query = use_query_map();
    let text = move || {
        // A form that failed without JavaScript comes back with `__err`: the notice in the same
        // address belongs to an earlier success.
        if query.read().get("__err").is_some() {
            return None;
        }
        let message = match query.read().get("notice")?.as_str() {
            "welcome" => "Welcome to Gatehouse! Check your inbox for a link to verify your email address.",
            "signed_out" => "You are signed out.",
            "signed_out_everywhere" => "You are signed out of all sessions.",
            "profile_saved" => "Profile saved.",
            "password_changed" => "Password changed. Your other sessions were signed out.",
            "session_revoked" => "That session was signed out.",
            "identity_unlinked" => "That sign-in method was unlinked from your account.",
            "verification_sent" => "We sent a new verification link. Check your inbox.",
            "email_verified" => "Your email address is verified.",
            "reset_sent" => "If an account exists for that address, we've sent a reset link. It expires in 1 hour.",
            "password_reset" => "Your password was reset. Sign in with the new one.",
            "org_created" => "Organization created. You are its Owner: invite people from Invitations.",
            "settings_saved" => "Settings saved.",
            "role_changed" => "Role changed.",
            "member_removed" => "Member removed. They no longer have access.",
            "ownership_transferred" => "Ownership transferred. You are now an Admin of this organization.",
            "left" => "You left the organization.",
            "invited" => "Invitation sent. It expires in 7 days.",
            "invitation_revoked" => "Invitation revoked. Its link no longer works.",
            "invitation_resent" => "Invitation sent again with a new link. The old link no longer works.",
            "joined" => "Welcome! You joined the organization.",
            "api_key_created" => "API key created. Its secret is shown once, below; without JavaScript, roll the key to get a secret you can see.",
            "api_key_rolled" => "API key rolled. The new secret is shown once, below.",
            "api_key_revoked" => "API key revoked. It no longer works anywhere.",
            "api_key_reassigned" => "You took over the API key. It now acts with your permissions, within its scopes.",
            "webhook_created" => "Endpoint added. Its signing secret is shown once, below; without JavaScript, rotate the secret from the endpoint's page to get one you can see.",
            "webhook_secret_rotated" => "Secret rotated. The new secret is shown once, below.",
            "webhook_test_sent" => "Test event queued. It appears in the delivery log below within seconds.",
            "webhook_deleted" => "Endpoint deleted. Nothing more is sent to it.",
            "delivery_retried" => "Delivery queued again.",
            "org_deleted" => "Organization deleted.",
            "logo_saved" => "Logo updated.",
            _ => return None,
        };
        Some(message)
    };
    view! {
        {move || text().map(|message| view! { <p class="notice" role="status">{message}</p> })}
    }
}
