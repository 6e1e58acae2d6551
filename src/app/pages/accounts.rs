//! `/account`: profile, password, email verification and the user's own sessions.
use crate::app::components::{
    form::{action_error, Confirm, Field, FormAlert, PasswordField},
    layout::Notice,
};
use crate::rpc::{
    accounts::{
        current_user, linked_identities, list_sessions, ChangePassword, RevokeSession, UnlinkIdentity, UpdateProfile,
    },
    auth::{LogoutEverywhere, ResendVerification},
};
use crate::shared::{
    accounts::{LinkedIdentity, Me, Page, SessionInfo},
    error::AppError,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::Redirect, hooks::use_query_map};

#[component]
pub fn AccountPage() -> impl IntoView {
    // Every resource is made here, outside the Suspense (see ARCHITECTURE.md); the lists are asked
    // for only once the visitor is known to be signed in.
    let me = Resource::new(|| (), |_| current_user());
    let signed_in = move || async move { matches!(me.await, Ok(Some(_))) };
    let query = use_query_map();
    let cursor = Signal::derive(move || query.read().get("sessions"));
    let sessions = Resource::new(
        move || cursor.get(),
        move |cursor| async move {
            if !signed_in().await {
                return Ok(None);
            }
            list_sessions(cursor).await.map(Some)
        },
    );
    let identities = Resource::new(
        || (),
        move |_| async move {
            if !signed_in().await {
                return Ok(None);
            }
            linked_identities().await.map(Some)
        },
    );
    let lists = AccountLists { cursor, sessions, identities };
    view! {
        <Title text="Account"/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match me.await {
                    Ok(Some(me)) => view! { <Account me lists/> }.into_any(),
                    _ => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The account's sessions (a page of them) and linked identities; `None` when signed out.
#[derive(Clone, Copy)]
struct AccountLists {
    cursor: Signal<Option<String>>,
    sessions: Resource<Result<Option<Page<SessionInfo>>, AppError>>,
    identities: Resource<Result<Option<Vec<LinkedIdentity>>, AppError>>,
}

#[component]
fn Account(me: Me, lists: AccountLists) -> impl IntoView {
    let profile = ServerAction::<UpdateProfile>::new();
    let profile_error = action_error(profile);
    let password = ServerAction::<ChangePassword>::new();
    let password_error = action_error(password);
    view! {
        <h1>"Account"</h1>
        <Notice/>
        {(!me.email_verified).then(|| view! { <VerifyBanner/> })}
        <div class="grid">
            <section class="card" aria-labelledby="profile-heading">
                <h2 id="profile-heading">"Profile"</h2>
                <p>"Email: " <strong>{me.email.clone()}</strong></p>
                <ActionForm action=profile>
                    <FormAlert error=profile_error fields=vec!["name"]/>
                    <Field name="name" label="Name" autocomplete="name" value=me.name.clone() error=profile_error/>
                    <button type="submit" class="button">"Save profile"</button>
                </ActionForm>
            </section>
            <section class="card" aria-labelledby="password-heading">
                <h2 id="password-heading">"Password"</h2>
                <ActionForm action=password>
                    <FormAlert error=password_error fields=vec!["current_password", "new_password"]/>
                    <PasswordField name="current_password" label="Current password" autocomplete="current-password" error=password_error/>
                    <PasswordField name="new_password" label="New password" autocomplete="new-password"
                        hint="At least 10 characters. Changing it signs out your other sessions." error=password_error/>
                    <button type="submit" class="button">"Change password"</button>
                </ActionForm>
            </section>
        </div>
        <Sessions cursor=lists.cursor sessions=lists.sessions/>
        <LinkedIdentities identities=lists.identities/>
    }
}

/// The single sign-on identities that can sign in to this account, each with Unlink.
#[component]
fn LinkedIdentities(identities: Resource<Result<Option<Vec<LinkedIdentity>>, AppError>>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="identities-heading">
            <h2 id="identities-heading">"Sign-in methods"</h2>
            <p>"Single sign-on identities linked to your account. Unlink any you do not recognise."</p>
            <Suspense fallback=|| view! { <p>"Loading sign-in methods…"</p> }>
                {move || Suspend::new(async move {
                    match identities.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(list)) if list.is_empty() => view! { <p id="no-identities">"No single sign-on identity is linked."</p> }.into_any(),
                        Ok(Some(list)) => view! {
                            <table class="table" id="identities">
                                <thead><tr><th scope="col">"Identity provider"</th><th scope="col">"Organization"</th><th scope="col">"Subject"</th><th scope="col">"Linked"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                <tbody>{list.into_iter().map(|i| view! { <IdentityRow identity=i/> }).collect_view()}</tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn IdentityRow(identity: LinkedIdentity) -> impl IntoView {
    let unlink = ServerAction::<UnlinkIdentity>::new();
    let label = format!("{} ({})", identity.connection_name, identity.kind.to_uppercase());
    view! {
        <tr>
            <td>{label}</td>
            <td>{identity.organization_name.clone()}</td>
            <td>{identity.subject.clone()}</td>
            <td>{identity.linked_at.format("%Y-%m-%d %H:%M UTC").to_string()}</td>
            <td>
                <Confirm label="Unlink" small=true warning="This identity will no longer sign in to your account.">
                    <ActionForm action=unlink>
                        <input type="hidden" name="id" value=identity.id.clone()/>
                        <button type="submit" class="button danger small">"Yes, unlink it"</button>
                    </ActionForm>
                </Confirm>
            </td>
        </tr>
    }
}

#[component]
fn VerifyBanner() -> impl IntoView {
    let resend = ServerAction::<ResendVerification>::new();
    let error = action_error(resend);
    view! {
        <div class="banner warning">
            <p>"Your email address is not verified. Open the link we emailed you, or get a new one."</p>
            <ActionForm action=resend>
                <FormAlert error fields=Vec::new()/>
                <button type="submit" class="button secondary">"Resend verification email"</button>
            </ActionForm>
        </div>
    }
}

#[component]
fn Sessions(
    cursor: Signal<Option<String>>,
    sessions: Resource<Result<Option<Page<SessionInfo>>, AppError>>,
) -> impl IntoView {
    let cursor = move || cursor.get();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Sessions"</h2>
            <p>"Where you are signed in. Sign out any session you do not recognise."</p>
            <Suspense fallback=|| view! { <p>"Loading sessions…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(page)) => view! {
                            <table class="table">
                                <thead><tr><th scope="col">"Device"</th><th scope="col">"IP address"</th><th scope="col">"Signed in"</th><th scope="col">"Last active"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                                <tbody>{page.data.into_iter().map(|s| view! { <SessionRow session=s/> }).collect_view()}</tbody>
                            </table>
                            <nav class="pager" aria-label="Sessions pages">
                                {cursor().is_some().then(|| view! { <a href="/account">"First page"</a> })}
                                {page.next_cursor.map(|next| view! { <a href=format!("/account?sessions={next}")>"Next page"</a> })}
                            </nav>
                        }.into_any(),
                        Err(e) => view! { <p class="alert" role="alert">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
            <Confirm label="Sign out of all sessions" danger=true warning="Every browser signed in to your account, this one included, will be signed out.">
                <ActionForm action=everywhere>
                    <button type="submit" class="button danger">"Yes, sign out everywhere"</button>
                </ActionForm>
            </Confirm>
        </section>
    }
}

#[component]
fn SessionRow(session: SessionInfo) -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let when = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    view! {
        <tr>
            <td>{session.user_agent.clone().unwrap_or_else(|| "Unknown device".to_owned())}
                {session.current.then(|| view! { " " <span class="badge">"This device"</span> })}</td>
            <td>{session.ip.clone().unwrap_or_default()}</td>
            <td>{when(session.created_at)}</td>
            <td>{when(session.last_seen_at)}</td>
            <td>
                {(!session.current).then(|| view! {
                    <Confirm label="Revoke" small=true>
                        <ActionForm action=revoke>
                            <input type="hidden" name="id" value=session.id.to_string()/>
                            <button type="submit" class="button danger small">"Yes, sign it out"</button>
                        </ActionForm>
                    </Confirm>
                })}
            </td>
        </tr>
    }
}
