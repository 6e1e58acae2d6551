//! `/orgs/:id`: an organization at a glance: seats, roles, plan and the last 30 days of activity.
use super::{org_page_with, OrgFrameData, Section, SectionError};
use crate::rpc::orgs::org_stats;
use crate::shared::{
    error::AppError,
    orgs::{DayCount, OrgStats, Organization, SubscriptionStatus, Tier},
    roles::Role,
};
use leptos::prelude::*;

#[component]
pub fn OrgOverviewPage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let stats = Resource::new(move || frame.id.get(), org_stats);
    org_page_with(frame, Section::Overview, "Overview", move |org| view! { <Overview org stats/> }.into_any())
}

#[component]
fn Overview(org: Organization, stats: Resource<Result<OrgStats, AppError>>) -> impl IntoView {
    view! {
        <Suspense fallback=|| view! { <p class="empty">"Loading statistics…"</p> }>
            {move || {
                let org = org.clone();
                Suspend::new(async move {
                    match stats.await {
                        Ok(stats) => view! { <Stats org stats/> }.into_any(),
                        Err(error) => view! { <SectionError error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

pub fn tier_label(tier: Tier) -> &'static str {
    match tier {
        Tier::Free => "Free",
        Tier::Premium => "Premium",
        Tier::Plus => "Plus",
        Tier::Enterprise => "Enterprise",
    }
}

pub fn status_label(status: SubscriptionStatus) -> &'static str {
    match status {
        SubscriptionStatus::Active => "Active",
        SubscriptionStatus::Trialing => "Trial",
        SubscriptionStatus::PastDue => "Payment past due",
        SubscriptionStatus::Canceled => "Canceled",
    }
}

/// Thousands separated by commas: 500000 → "500,000".
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[component]
fn Stats(org: Organization, stats: OrgStats) -> impl IntoView {
    let seats_used = stats.member_count + stats.pending_invitations;
    let seats_free = (stats.limits.max_users - seats_used).max(0);
    let by_role = Role::ALL
        .into_iter()
        .map(|role| {
            let n = stats.members_by_role.iter().find(|(r, _)| *r == role).map_or(0, |(_, n)| *n);
            view! { <li><span class=format!("badge role-{}", role.as_str())>{role.label()}</span> " " {n}</li> }
        })
        .collect_view();
    let past_due = matches!(org.subscription.status, SubscriptionStatus::PastDue | SubscriptionStatus::Canceled);
    view! {
        <div class="stats">
            <div class="stat">
                <span class="stat-label">"Members"</span>
                <span class="stat-value">{stats.member_count}</span>
                <span class="stat-sub">{format!("of {} allowed on this plan", grouped(stats.limits.max_users))}</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Pending invitations"</span>
                <span class="stat-value">{stats.pending_invitations}</span>
                <span class="stat-sub">"each holds a seat until accepted"</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Seats free"</span>
                <span class="stat-value">{seats_free}</span>
                <span class="stat-sub">{format!("{seats_used} of {} in use", grouped(stats.limits.max_users))}</span>
            </div>
            <div class="stat">
                <span class="stat-label">"Plan"</span>
                <span class="stat-value">{tier_label(org.subscription.tier)}</span>
                <span class="stat-sub" class:warning=past_due>{status_label(org.subscription.status)}</span>
            </div>
        </div>
        <div class="grid">
            <section class="card" aria-labelledby="roles-heading">
                <h2 id="roles-heading">"Members by role"</h2>
                <ul class="role-counts">{by_role}</ul>
            </section>
            <section class="card" aria-labelledby="limits-heading">
                <h2 id="limits-heading">"Limits"</h2>
                <dl class="facts">
                    <dt>"Users"</dt><dd>{grouped(stats.limits.max_users)}</dd>
                    <dt>"API calls per hour"</dt><dd>{grouped(stats.limits.max_api_calls_per_hour)}</dd>
                </dl>
            </section>
        </div>
        <section class="card" aria-labelledby="activity-heading">
            <h2 id="activity-heading">"Activity"</h2>
            <ActivityChart days=stats.audit_events_per_day/>
        </section>
    }
}

/// Audit events per day as 30 bars; each bar names its day and count, and the whole chart has a
/// summary for screen readers.
#[component]
fn ActivityChart(days: Vec<DayCount>) -> impl IntoView {
    const HEIGHT: f64 = 100.0;
    const STEP: f64 = 10.0;
    let total: i64 = days.iter().map(|d| d.count).sum();
    let busiest = days.iter().max_by_key(|d| d.count).filter(|d| d.count > 0).cloned();
    let max = busiest.as_ref().map_or(1, |d| d.count) as f64;
    let width = STEP * days.len().max(1) as f64;
    let summary = match &busiest {
        Some(b) => {
            format!("{total} events in the last {} days; the busiest day was {} with {}.", days.len(), b.day, b.count)
        }
        None => format!("No events in the last {} days.", days.len()),
    };
    let (first, last) = (days.first().map(|d| d.day.clone()), days.last().map(|d| d.day.clone()));
    let bars = days
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let h = if d.count > 0 { (d.count as f64 / max * (HEIGHT - 4.0)).max(2.0) } else { 0.0 };
            let x = i as f64 * STEP;
            let label = format!("{}: {} {}", d.day, d.count, if d.count == 1 { "event" } else { "events" });
            view! {
                <g class="day">
                    <title>{label}</title>
                    <rect class="hit" x=x y="0" width=STEP height=HEIGHT/>
                    <rect class="bar" x=x + 1.5 y=HEIGHT - h width=STEP - 3.0 height=h/>
                </g>
            }
        })
        .collect_view();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {width} {HEIGHT}") preserveAspectRatio="none" role="img"
                aria-labelledby="activity-title" aria-describedby="activity-summary">
                <title id="activity-title">"Audit events per day, last 30 days"</title>
                <line class="baseline" x1="0" y1=HEIGHT - 0.5 x2=width y2=HEIGHT - 0.5/>
                {bars}
            </svg>
            <div class="chart-axis" aria-hidden="true"><span>{first}</span><span>{last}</span></div>
            <figcaption id="activity-summary">{summary}</figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grouped_thousands() {
        assert_eq!(super::grouped(5), "5");
        assert_eq!(super::grouped(1_000), "1,000");
        assert_eq!(super::grouped(500_000), "500,000");
        assert_eq!(super::grouped(10_000_000), "10,000,000");
    }
}
