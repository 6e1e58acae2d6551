//! `/invite?token=...`: the page an invitation email links to. Opening it changes nothing; the
//! invited person accepts with a button (a POST) once signed in with the invited address.
use super::{brand_style, set_status, when, Logo};
use crate::app::components::form::{action_error, FormAlert};
use crate::rpc::{
    accounts::current_user,
    invitations::{invitation_preview, AcceptInvitation},
};
use crate::shared::{
    accounts::Me,
    error::{AppError, ErrorKind},
    invitations::{InvitationPreview, InvitationStatus},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn InvitePage() -> impl IntoView {
    let query = use_query_map();
    let token = Signal::derive(move || query.read().get("token").unwrap_or_default());
    let preview = Resource::new(move || token.get(), invitation_preview);
    let me = Resource::new(|| (), |_| current_user());
    view! {
        <Suspense fallback=|| view! { <p class="empty">"Loading the invitation…"</p> }>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                match preview.await {
                    Ok(preview) => view! { <Invitation preview me token=token.get_untracked()/> }.into_any(),
                    Err(error) => view! { <BadLink error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Invitation(preview: InvitationPreview, me: Option<Me>, token: String) -> impl IntoView {
    let initial = preview.organization_name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default();
    // The details matter only while the invitation can still be accepted.
    let body = match preview.status {
        InvitationStatus::Pending => view! {
            <dl class="facts">
                <dt>"Role"</dt><dd>{preview.role.label()}</dd>
                <dt>"Invited by"</dt><dd>{preview.invited_by_name.clone().unwrap_or_else(|| "An administrator".to_owned())}</dd>
                <dt>"For"</dt><dd>{preview.email.clone()}</dd>
                <dt>"Expires"</dt><dd>{when(preview.expires_at)}</dd>
            </dl>
            <Respond preview=preview.clone() me token/>
        }
        .into_any(),
        status => {
            set_status(410);
            let message = match status {
                InvitationStatus::Accepted => "This invitation was already used.",
                InvitationStatus::Revoked => "This invitation was withdrawn. Ask the person who invited you for a new one.",
                _ => "This invitation has expired. Ask the person who invited you for a new one.",
            };
            view! { <p class="alert" role="alert">{message}</p> }.into_any()
        }
    };
    view! {
        <Title text=format!("Invitation to {}", preview.organization_name)/>
        <section class="card narrow org invitation" style=brand_style(preview.primary_color.as_deref())>
            <div class="invite-brand">
                <Logo url=preview.logo_url.clone() initial/>
                <div>
                    <p class="crumb">"You are invited to join"</p>
                    <h1>{preview.organization_name.clone()}</h1>
                </div>
            </div>
            {body}
        </section>
    }
}

/// What the visitor can do with an open invitation, depending on who is signed in.
#[component]
fn Respond(preview: InvitationPreview, me: Option<Me>, token: String) -> impl IntoView {
    let back_here = super::enc(&format!("/invite?token={token}"));
    let accept = ServerAction::<AcceptInvitation>::new();
    let error = action_error(accept);
    match me {
        Some(me) if me.email.eq_ignore_ascii_case(&preview.email) => view! {
            <ActionForm action=accept>
                <FormAlert error fields=Vec::new()/>
                <input type="hidden" name="token" value=token/>
                <button type="submit" class="button">"Accept invitation"</button>
            </ActionForm>
        }
        .into_any(),
        Some(me) => view! {
            <div class="banner warning">
                <p>{format!("This invitation is for {}, but you are signed in as {}.", preview.email, me.email)}</p>
                <p>{format!("Sign out, then sign in or create an account with {}, and open this link again.", preview.email)}</p>
            </div>
        }
        .into_any(),
        None => view! {
            <p>{format!("Sign in with {}, or create an account with that address: you come back here to accept.", preview.email)}</p>
            <p class="actions start">
                <a class="button" href=format!("/login?next={}", back_here)>"Sign in"</a>
                <a class="button secondary" href=format!("/signup?next={}", back_here)>"Create account"</a>
            </p>
        }
        .into_any(),
    }
}

/// Unknown, malformed or no longer usable links, with the status that says so.
#[component]
fn BadLink(error: AppError) -> impl IntoView {
    set_status(error.status());
    // Used, expired and withdrawn invitations (410) explain themselves in the error's message.
    let message = if error.kind == ErrorKind::NotFound {
        "This invitation link is not valid. Check that you opened the whole link from the email, or ask for a new invitation.".to_owned()
    } else {
        error.message
    };
    view! {
        <Title text="Invitation"/>
        <section class="card narrow">
            <h1>"Invitation"</h1>
            <p class="alert" role="alert">{message}</p>
            <p><a href="/">"Go to the start page"</a></p>
        </section>
    }
}
