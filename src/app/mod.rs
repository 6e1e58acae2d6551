//! The dashboard: the HTML shell, the routes and the pages. Rendered on the server (every route
//! waits for its data, so redirects and 404 statuses are real) and hydrated in the browser.
pub mod components;
pub mod pages;

use components::layout::Header;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use pages::{
    accounts::AccountPage,
    auth::*,
    dev_outbox::DevOutboxPage,
    home::HomePage,
    not_found::NotFound,
    orgs::{
        api_keys::OrgApiKeysPage,
        audit::OrgAuditPage,
        invitations::OrgInvitationsPage,
        invite::InvitePage,
        list::OrgsPage,
        members::OrgMembersPage,
        overview::OrgOverviewPage,
        settings::OrgSettingsPage,
        sso::OrgSsoPage,
        usage::OrgUsagePage,
        webhooks::{OrgWebhookDeliveryPage, OrgWebhookPage, OrgWebhooksPage},
    },
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Lets tests and scripts know the page is interactive.
    Effect::new(|_| {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Gatehouse".to_owned() } else { format!("{page} · Gatehouse") }/>
        <Router>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header/>
            <main id="main" class="container">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/signup") view=SignupPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs") view=OrgsPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id") view=OrgOverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/members") view=OrgMembersPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/invitations") view=OrgInvitationsPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/audit") view=OrgAuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/settings") view=OrgSettingsPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/api-keys") view=OrgApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/usage") view=OrgUsagePage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/webhooks") view=OrgWebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/sso") view=OrgSsoPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/webhooks/:webhook") view=OrgWebhookPage ssr=SsrMode::Async/>
                    <Route path=path!("/orgs/:id/webhooks/:webhook/deliveries/:delivery") view=OrgWebhookDeliveryPage ssr=SsrMode::Async/>
                    <Route path=path!("/invite") view=InvitePage ssr=SsrMode::Async/>
                    <Route path=path!("/dev/outbox") view=DevOutboxPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
