//! `/orgs/:id/invitations`: inviting people by email, and the invitations sent so far.
use super::{
    guarded, latest_error, one_at_a_time, org_page_with, page_link, when, CopyField, Loaded, OrgFrameData, Pager,
    RowAction, Section, SectionError,
};
use crate::app::components::form::{ActionError, Confirm, Field, FormAlert};
use crate::rpc::invitations::{invitations, Invite, ResendInvitation, RevokeInvitation};
use crate::shared::{
    accounts::Page,
    ids::OrgId,
    invitations::{Invitation, InvitationStatus, IssuedInvitation},
    orgs::Organization,
    roles::{may_assign, Permission, Role},
};
use leptos::{html, prelude::*};
use leptos_router::hooks::use_query_map;

#[component]
pub fn OrgInvitationsPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let query = use_query_map();
    let cursor = Signal::derive(move || query.read().get("cursor").filter(|c| !c.is_empty()));
    let (invite, revoke, resend) = (ServerAction::new(), ServerAction::new(), ServerAction::new());
    let list = frame.load_if(
        Permission::InvitationsWrite,
        move || (frame.id.get(), cursor.get(), invite.version().get(), revoke.version().get(), resend.version().get()),
        |(id, cursor, ..)| invitations(id, cursor),
    );
    let data = InvitationData { cursor, invite, revoke, resend, list };
    org_page_with(frame, Section::Invitations, "Invitations", move |org| {
        guarded(org, Permission::InvitationsWrite, "inviting people", |org| {
            view! { <Invitations org data/> }.into_any()
        })
    })
}

/// The page's actions and list (`None` for a role that may not invite), made with the page.
#[derive(Clone, Copy)]
struct InvitationData {
    cursor: Signal<Option<String>>,
    invite: ServerAction<Invite>,
    revoke: ServerAction<RevokeInvitation>,
    resend: ServerAction<ResendInvitation>,
    list: Loaded<Page<Invitation>>,
}

#[component]
fn Invitations(org: Organization, data: InvitationData) -> impl IntoView {
    let InvitationData { cursor, invite, revoke, resend, list } = data;
    let cursor = move || cursor.get();
    one_at_a_time(vec![RowAction::of(invite), RowAction::of(revoke), RowAction::of(resend)]);
    let row_error = latest_error(vec![RowAction::of(revoke), RowAction::of(resend)]);
    let org_id = org.id;
    let first = format!("/orgs/{org_id}/invitations");
    let list_view = move || {
        let first = first.clone();
        Suspend::new(async move {
            match list.await {
                Ok(None) => ().into_any(),
                Ok(Some(page)) if page.data.is_empty() && cursor().is_none() => {
                    view! { <p class="empty">"No invitations yet."</p> }.into_any()
                }
                Ok(Some(page)) => {
                    let rows = page
                        .data
                        .into_iter()
                        .map(|invitation| view! { <InvitationRow invitation revoke resend/> })
                        .collect_view();
                    let next = page.next_cursor.map(|c| page_link(&format!("{first}?"), &c));
                    view! {
                        <table class="table">
                            <thead><tr>
                                <th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Status"</th>
                                <th scope="col">"Expires"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
                            </tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                        <Pager label="Invitation pages" first on_first=cursor().is_none() next/>
                    }
                    .into_any()
                }
                Err(error) => view! { <SectionError error/> }.into_any(),
            }
        })
    };
    view! {
        <InviteForm org_id my_role=org.my_role invite/>
        <section class="card" aria-labelledby="sent-heading">
            <h2 id="sent-heading">"Sent invitations"</h2>
            <FormAlert error=row_error fields=Vec::new()/>
            <Transition fallback=|| view! { <p class="empty">"Loading invitations…"</p> }>{list_view}</Transition>
        </section>
    }
}

#[component]
fn InviteForm(org_id: OrgId, my_role: Role, invite: ServerAction<Invite>) -> impl IntoView {
    let value = invite.value();
    let error: ActionError = Signal::derive(move || value.get().and_then(Result::err));
    let issued = move || value.get().and_then(Result::ok);
    // Only roles below one's own can be offered, unless one is an Owner.
    let roles: Vec<Role> = Role::ALL.into_iter().filter(|r| may_assign(my_role, None, *r)).collect();
    let default = if roles.contains(&Role::Member) { Role::Member } else { Role::Viewer };
    let form = NodeRef::<html::Form>::new();
    // With JavaScript the form stays on the page: empty it for the next person once one is sent.
    Effect::new(move |_| {
        if matches!(value.get(), Some(Ok(_))) {
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    view! {
        <section class="card" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite someone"</h2>
            <p>"We email them a link that works once and expires in 7 days. Each open invitation holds a seat."</p>
            <ActionForm action=invite node_ref=form attr:class="invite-form">
                <FormAlert error fields=vec!["email", "role"]/>
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <Field name="email" label="Email" kind="email" autocomplete="off" error/>
                <RoleSelect roles default error/>
                <button type="submit" class="button">"Send invitation"</button>
            </ActionForm>
            {move || issued().map(|issued| view! { <IssuedLink issued/> })}
        </section>
    }
}

#[component]
fn RoleSelect(roles: Vec<Role>, default: Role, error: ActionError) -> impl IntoView {
    let field_error = move || error.get().filter(|e| e.field() == Some("role")).map(|e| e.message);
    let options = roles
        .into_iter()
        .map(|r| view! { <option value=r.as_str() selected=r == default>{r.label()}</option> })
        .collect_view();
    view! {
        <div class="field">
            <label for="field-role">"Role"</label>
            <p id="field-role-hint" class="hint">"Admins manage members, invitations and settings. Members see the organization and its members. Viewers only see the organization."</p>
            <select id="field-role" name="role" aria-describedby="field-role-hint field-role-error"
                aria-invalid=move || field_error().is_some().to_string()>{options}</select>
            {move || field_error().map(|m| view! { <p id="field-role-error" class="field-error" role="alert">{m}</p> })}
        </div>
    }
}

/// The link of an invitation just sent, to pass on another way than email. Shown once.
#[component]
fn IssuedLink(issued: IssuedInvitation) -> impl IntoView {
    view! {
        <div class="issued" role="status">
            <p>{format!("Invitation sent to {}. You can also share this link with them yourself: it works once and expires {}.",
                issued.invitation.email, when(issued.invitation.expires_at))}</p>
            <CopyField id="invite-link" label="Invitation link" value=issued.link button="Copy link"/>
        </div>
    }
}

#[component]
fn InvitationRow(
    invitation: Invitation,
    revoke: ServerAction<RevokeInvitation>,
    resend: ServerAction<ResendInvitation>,
) -> impl IntoView {
    let (status, class) = match invitation.status {
        InvitationStatus::Pending => ("Pending", "status-pending"),
        InvitationStatus::Accepted => ("Accepted", "status-accepted"),
        InvitationStatus::Revoked => ("Revoked", "status-revoked"),
        InvitationStatus::Expired => ("Expired", "status-expired"),
    };
    let open = matches!(invitation.status, InvitationStatus::Pending | InvitationStatus::Expired);
    let expires = match (invitation.status, invitation.accepted_at) {
        (InvitationStatus::Accepted, Some(at)) => format!("Accepted {}", when(at)),
        (InvitationStatus::Revoked, _) => "—".to_owned(),
        _ => when(invitation.expires_at),
    };
    let (org_id, id) = (invitation.organization_id.to_string(), invitation.id.to_string());
    let (org_id2, id2) = (org_id.clone(), id.clone());
    let actions = open.then(|| {
        view! {
            <div class="row-actions">
                <ActionForm action=resend attr:class="inline">
                    <input type="hidden" name="org_id" value=org_id/>
                    <input type="hidden" name="invitation_id" value=id/>
                    <button type="submit" class="button secondary small">"Resend"</button>
                </ActionForm>
                <Confirm label="Revoke" small=true warning={format!("The link sent to {} stops working.", invitation.email)}>
                    <ActionForm action=revoke>
                        <input type="hidden" name="org_id" value=org_id2/>
                        <input type="hidden" name="invitation_id" value=id2/>
                        <button type="submit" class="button danger small">"Yes, revoke"</button>
                    </ActionForm>
                </Confirm>
            </div>
        }
    });
    view! {
        <tr>
            <td>{invitation.email.clone()}</td>
            <td>{invitation.role.label()}</td>
            <td><span class=format!("badge {class}")>{status}</span></td>
            <td class="nowrap">{expires}</td>
            <td>{actions}</td>
        </tr>
    }
}
