//! Sign up, sign in, forgotten password, password reset and email verification.
use crate::app::components::{
    form::{action_error, Field, FormAlert, PasswordField},
    layout::Notice,
};
use crate::rpc::auth::{link_status, ForgotPassword, Login, ResetPassword, Signup, VerifyEmail};
use crate::shared::{error::ErrorCode, values::is_local_path};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Where to return after signing in or up (`?next=`, a path on this site only), carried through
/// the form as a hidden field.
fn use_next() -> Signal<Option<String>> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("next").filter(|n| is_local_path(n)))
}

#[component]
fn NextField(next: Signal<Option<String>>) -> impl IntoView {
    move || next.get().map(|next| view! { <input type="hidden" name="next" value=next/> })
}

/// A link to another auth page that keeps `?next=`.
fn with_next(path: &str, next: Option<String>) -> String {
    match next {
        Some(next) => format!("{path}?next={}", crate::app::pages::orgs::enc(&next)),
        None => path.to_owned(),
    }
}

#[component]
pub fn SignupPage() -> impl IntoView {
    let next = use_next();
    let action = ServerAction::<Signup>::new();
    let error = action_error(action);
    view! {
        <Title text="Create your account"/>
        <section class="card narrow">
            <h1>"Create your account"</h1>
            <ActionForm action>
                <FormAlert error fields=vec!["name", "email", "password"]/>
                <NextField next/>
                <Field name="name" label="Name" autocomplete="name" error/>
                <Field name="email" label="Email" kind="email" autocomplete="email" error/>
                <PasswordField name="password" label="Password" autocomplete="new-password"
                    hint="At least 10 characters. A phrase of unrelated words is easy to remember and hard to guess." error/>
                <button type="submit" class="button">"Create account"</button>
            </ActionForm>
            <p class="aside">"Already have an account? " <a href=move || with_next("/login", next.get())>"Sign in"</a></p>
        </section>
    }
}

/// `/login?email=` fills in the address (after `/sso/start` found no single sign-on for it, with
/// `password=1`). Below the password form, "Sign in with SSO" asks only for the address and goes
/// to `/sso/start` with a plain GET form, so it works without JavaScript.
#[component]
pub fn LoginPage() -> impl IntoView {
    let next = use_next();
    let action = ServerAction::<Login>::new();
    let error = action_error(action);
    let query = use_query_map();
    let email = untrack(|| query.read().get("email")).filter(|e| !e.trim().is_empty()).unwrap_or_default();
    let no_sso = untrack(|| query.read().get("password").is_some_and(|p| p == "1")) && !email.is_empty();
    let sso_email = email.clone();
    // A password sign-in refused because the address's domain requires SSO names where to go.
    let sso_link = move || {
        error
            .get()
            .filter(|e| e.code == ErrorCode::SsoRequired)
            .and_then(|e| e.details.get("sign_in_url").and_then(|url| url.as_str().map(str::to_owned)))
            .map(|url| view! { <p><a class="button" href=url>"Continue with single sign-on"</a></p> })
    };
    view! {
        <Title text="Sign in"/>
        <section class="card narrow">
            <h1>"Sign in"</h1>
            <Notice/>
            // Email first: people whose company signs them in continue at its provider.
            <section class="sso-first" aria-labelledby="sso-login-heading">
                <h2 id="sso-login-heading">"With your company's single sign-on"</h2>
                <form method="get" action="/sso/start">
                    {move || next.get().map(|next| view! { <input type="hidden" name="return_to" value=next/> })}
                    <div class="field">
                        <label for="sso-email">"Work email"</label>
                        <p id="sso-email-hint" class="hint">"If your company signs you in, you continue at its sign-in page; otherwise you come back here for your password."</p>
                        <input id="sso-email" type="email" name="email" autocomplete="email" required=true
                            value=sso_email aria-describedby="sso-email-hint"/>
                    </div>
                    <button type="submit" class="button secondary">"Continue with SSO"</button>
                </form>
            </section>
            <section class="sso-login" aria-labelledby="password-login-heading">
                <h2 id="password-login-heading">"With your password"</h2>
                {no_sso.then(|| view! {
                    <p class="hint" role="status">"Single sign-on is not set up for that address. Sign in with your password."</p>
                })}
                <ActionForm action>
                    <FormAlert error fields=vec!["email", "password"]/>
                    {sso_link}
                    <NextField next/>
                    <Field name="email" label="Email" kind="email" autocomplete="username" value=email error/>
                    <PasswordField name="password" label="Password" autocomplete="current-password" error/>
                    <button type="submit" class="button">"Sign in"</button>
                </ActionForm>
            </section>
            <p class="aside"><a href="/forgot-password">"Forgot your password?"</a></p>
            <p class="aside">"New here? " <a href=move || with_next("/signup", next.get())>"Create an account"</a></p>
        </section>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<ForgotPassword>::new();
    let error = action_error(action);
    view! {
        <Title text="Reset your password"/>
        <section class="card narrow">
            <h1>"Reset your password"</h1>
            <Notice/>
            <p>"Enter the email address of your account and we will send you a link to choose a new password."</p>
            <ActionForm action>
                <FormAlert error fields=vec!["email"]/>
                <Field name="email" label="Email" kind="email" autocomplete="email" error/>
                <button type="submit" class="button">"Send reset link"</button>
            </ActionForm>
            <p class="aside"><a href="/login">"Back to sign in"</a></p>
        </section>
    }
}

/// The token from `?token=` and whether it is still good; pages that use emailed links start here.
fn use_link(reset: bool) -> (Signal<String>, Resource<Result<bool, crate::shared::error::AppError>>) {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let live = Resource::new(move || token.get(), move |token| link_status(token, reset));
    (token, live)
}

#[component]
fn DeadLink(#[prop(into)] again: String, label: &'static str) -> impl IntoView {
    view! {
        <p class="alert" role="alert">"This link is invalid, was already used or has expired."</p>
        <p><a href=again>{label}</a></p>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let error = action_error(action);
    let (token, live) = use_link(true);
    view! {
        <Title text="Choose a new password"/>
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    if live.await != Ok(true) {
                        return view! { <DeadLink again="/forgot-password" label="Request a new reset link"/> }.into_any();
                    }
                    view! {
                        <ActionForm action>
                            <FormAlert error fields=vec!["password"]/>
                            <input type="hidden" name="token" value=token.get_untracked()/>
                            <PasswordField name="password" label="New password" autocomplete="new-password"
                                hint="At least 10 characters. Setting it signs you out everywhere." error/>
                            <button type="submit" class="button">"Set new password"</button>
                        </ActionForm>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

/// Opening the mailed link changes nothing; pressing the button (a POST) verifies.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    let error = action_error(action);
    let (token, live) = use_link(false);
    view! {
        <Title text="Verify your email"/>
        <section class="card narrow">
            <h1>"Verify your email"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    if live.await != Ok(true) {
                        return view! { <DeadLink again="/account" label="Go to your account to send a new link"/> }.into_any();
                    }
                    view! {
                        <p>"Confirm that this email address belongs to you."</p>
                        <ActionForm action>
                            <FormAlert error fields=Vec::new()/>
                            <input type="hidden" name="token" value=token.get_untracked()/>
                            <button type="submit" class="button">"Verify my email"</button>
                        </ActionForm>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}
