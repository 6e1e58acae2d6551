//! `/orgs/:id/members`: who belongs to the organization; changing roles, removing members, handing
//! over ownership, and leaving.
use super::{
    can, enc, latest_error, one_at_a_time, org_page_with, page_link, reload_org_after, Loaded, OrgFrameData, Pager,
    RowAction, Section, SectionError,
};
use crate::app::components::form::{action_error, Confirm, FormAlert};
use crate::rpc::{
    accounts::current_user,
    members::{members, ChangeMemberRole, LeaveOrg, RemoveMember, TransferOwnership},
};
use crate::shared::{
    accounts::{Me, Page},
    error::AppError,
    ids::{OrgId, UserId},
    members::Member,
    orgs::Organization,
    roles::{may_assign, Permission, Role},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn OrgMembersPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let actions = MemberActions {
        change: ServerAction::new(),
        remove: ServerAction::new(),
        transfer: ServerAction::new(),
        leave: ServerAction::new(),
    };
    let query = use_query_map();
    let search = Signal::derive(move || query.read().get("q").filter(|q| !q.trim().is_empty()));
    let cursor = Signal::derive(move || query.read().get("cursor").filter(|c| !c.is_empty()));
    let MemberActions { change, remove, transfer, .. } = actions;
    let list = frame.load_if(
        Permission::MembersRead,
        move || {
            let versions = (change.version().get(), remove.version().get(), transfer.version().get());
            (frame.id.get(), search.get(), cursor.get(), versions)
        },
        |(id, q, cursor, _)| members(id, q, cursor),
    );
    let me = Resource::new(|| (), |_| current_user());
    let data = MemberData { list, me, search, cursor };
    org_page_with(frame, Section::Members, "Members", move |org| view! { <Members org actions data/> }.into_any())
}

/// The page's server actions, created with the page so its resources can follow them.
#[derive(Clone, Copy)]
struct MemberActions {
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
    transfer: ServerAction<TransferOwnership>,
    leave: ServerAction<LeaveOrg>,
}

/// What the page loads (`None` for a role that may not see the list) and the query it shows.
#[derive(Clone, Copy)]
struct MemberData {
    list: Loaded<Page<Member>>,
    me: Resource<Result<Option<Me>, AppError>>,
    search: Signal<Option<String>>,
    cursor: Signal<Option<String>>,
}

/// What the signed-in user may do on other members' rows, and the one action of each kind that
/// all rows share.
#[derive(Clone, Copy)]
struct Controls {
    org_id: OrgId,
    me: Option<UserId>,
    my_role: Role,
    manage: bool,
    transfer: bool,
    change_action: ServerAction<ChangeMemberRole>,
    remove_action: ServerAction<RemoveMember>,
    transfer_action: ServerAction<TransferOwnership>,
}

#[component]
fn Members(org: Organization, actions: MemberActions, data: MemberData) -> impl IntoView {
    let MemberActions { change, remove, transfer, leave } = actions;
    // Handing over ownership makes the user an Admin: the frame shows the new role.
    reload_org_after(transfer);
    one_at_a_time(vec![RowAction::of(leave), RowAction::of(change), RowAction::of(remove), RowAction::of(transfer)]);
    let (org_id, my_role, name) = (org.id, org.my_role, org.name.clone());
    view! {
        {if can(&org, Permission::MembersRead) {
            view! { <MemberList org change remove transfer data/> }.into_any()
        } else {
            view! { <p class="card empty">{format!("Your role ({}) does not include seeing the member list.", my_role.label())}</p> }.into_any()
        }}
        <LeaveCard org_id my_role name leave/>
    }
}

/// The searchable, paginated member list with the row controls the user's role allows.
#[component]
fn MemberList(
    org: Organization,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
    transfer: ServerAction<TransferOwnership>,
    data: MemberData,
) -> impl IntoView {
    let MemberData { list, me, search, cursor } = data;
    let (search, cursor) = (move || search.get(), move || cursor.get());
    let error = latest_error(vec![RowAction::of(change), RowAction::of(remove), RowAction::of(transfer)]);
    let org_id = org.id;
    let (manage, may_transfer) = (can(&org, Permission::MembersWrite), can(&org, Permission::OwnershipTransfer));
    let my_role = org.my_role;
    let base = move || match search() {
        Some(q) => format!("/orgs/{org_id}/members?q={}&", enc(&q)),
        None => format!("/orgs/{org_id}/members?"),
    };
    let list_view = move || {
        Suspend::new(async move {
            let me = me.await.ok().flatten().map(|m| m.id);
            match list.await {
                Ok(None) => ().into_any(),
                Ok(Some(page)) => {
                    let controls = Controls {
                        org_id,
                        me,
                        my_role,
                        manage,
                        transfer: may_transfer,
                        change_action: change,
                        remove_action: remove,
                        transfer_action: transfer,
                    };
                    let empty = page.data.is_empty();
                    let actions_column = manage || may_transfer;
                    let rows = page.data.into_iter().map(|m| view! { <MemberRow member=m controls/> }).collect_view();
                    let first = base().trim_end_matches(['?', '&']).to_owned();
                    view! {
                        {if empty {
                            view! { <p class="empty">{if search().is_some() { "No member matches that search." } else { "No members." }}</p> }.into_any()
                        } else {
                            view! {
                                <table class="table members">
                                    <thead><tr>
                                        <th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th><th scope="col">"Signed in with"</th>
                                        {actions_column.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                                    </tr></thead>
                                    <tbody>{rows}</tbody>
                                </table>
                            }.into_any()
                        }}
                        <Pager label="Member pages" first on_first=cursor().is_none()
                            next=page.next_cursor.map(|c| page_link(&base(), &c))/>
                    }
                    .into_any()
                }
                Err(error) => view! { <SectionError error/> }.into_any(),
            }
        })
    };
    view! {
        <section class="card" aria-label="Member list">
            <form method="get" class="search" role="search">
                <label for="member-search">"Search members"</label>
                <input id="member-search" type="search" name="q" value=untrack(search) placeholder="Name or email"/>
                <button type="submit" class="button secondary">"Search"</button>
                {untrack(search).map(|_| view! { <a href=format!("/orgs/{org_id}/members")>"Show all"</a> })}
            </form>
            <FormAlert error fields=Vec::new()/>
            <Transition fallback=|| view! { <p class="empty">"Loading members…"</p> }>{list_view}</Transition>
        </section>
    }
}

#[component]
fn MemberRow(member: Member, controls: Controls) -> impl IntoView {
    let Controls { org_id, me, my_role, manage, transfer, change_action, remove_action, transfer_action } = controls;
    let is_me = me == Some(member.user_id);
    // The same rule the server applies: others only below one's own rank, unless an Owner.
    let assignable: Vec<Role> = Role::ALL.into_iter().filter(|r| may_assign(my_role, Some(member.role), *r)).collect();
    let may_manage = manage && !is_me && !assignable.is_empty();
    let may_transfer = transfer && !is_me;
    let select_id = format!("role-{}", member.user_id);
    let name = member.name.clone();
    let role_form = may_manage.then(|| {
        let options = assignable
            .iter()
            .map(|r| view! { <option value=r.as_str() selected=*r == member.role>{r.label()}</option> })
            .collect_view();
        view! {
            <ActionForm action=change_action attr:class="row-form">
                <input type="hidden" name="org_id" value=org_id.to_string()/>
                <input type="hidden" name="user_id" value=member.user_id.to_string()/>
                <label for=select_id.clone() class="visually-hidden">{format!("Role for {name}")}</label>
                <select id=select_id name="role">{options}</select>
                <button type="submit" class="button secondary small">"Change role"</button>
            </ActionForm>
        }
    });
    let remove = may_manage.then(|| {
        view! {
            <Confirm label="Remove" small=true warning={format!("{} loses access to the organization at once.", member.name)}>
                <ActionForm action=remove_action>
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="user_id" value=member.user_id.to_string()/>
                    <button type="submit" class="button danger small">"Yes, remove"</button>
                </ActionForm>
            </Confirm>
        }
    });
    let hand_over = may_transfer.then(|| {
        view! {
            <Confirm label="Transfer ownership" small=true warning={format!("{} becomes the Owner of record. You stay on as an Admin and can no longer delete the organization.", member.name)}>
                <ActionForm action=transfer_action>
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <input type="hidden" name="user_id" value=member.user_id.to_string()/>
                    <button type="submit" class="button danger small">"Yes, transfer ownership"</button>
                </ActionForm>
            </Confirm>
        }
    });
    let actions_column = manage || transfer;
    view! {
        <tr>
            <td>{member.name.clone()} {is_me.then(|| view! { " " <span class="badge">"You"</span> })}</td>
            <td>{member.email.clone()}</td>
            <td><span class=format!("badge role-{}", member.role.as_str())>{member.role.label()}</span></td>
            <td class="nowrap">{member.joined_at.format("%Y-%m-%d").to_string()}</td>
            <td>{member.last_sign_in_method.map_or("—", |method| method.label())}</td>
            {actions_column.then(|| view! { <td><div class="row-actions">{role_form}{remove}{hand_over}</div></td> })}
        </tr>
    }
}

#[component]
fn LeaveCard(org_id: OrgId, my_role: Role, name: String, leave: ServerAction<LeaveOrg>) -> impl IntoView {
    let error = action_error(leave);
    view! {
        <section class="card" aria-labelledby="leave-heading">
            <h2 id="leave-heading">"Leave organization"</h2>
            <p>{format!("Your role here: {}. Leaving ends your access to {name} at once; coming back takes a new invitation.", my_role.label())}</p>
            <FormAlert error fields=Vec::new()/>
            <Confirm label="Leave organization" danger=true warning={format!("Leave {name}?")}>
                <ActionForm action=leave>
                    <input type="hidden" name="org_id" value=org_id.to_string()/>
                    <button type="submit" class="button danger">"Yes, leave"</button>
                </ActionForm>
            </Confirm>
        </section>
    }
}
