//! `/orgs/:id/usage`: API calls per hour over the last day (or week), drawn as an SVG bar chart
//! against the plan's hourly limit, with the same numbers in a table.
use super::{org_page, use_org_id, Section, SectionError};
use crate::rpc::api_keys::usage;
use crate::shared::api_keys::{UsageHour, UsageReport};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn OrgUsagePage() -> impl IntoView {
    org_page(Section::Usage, "API usage", |_| view! { <Usage/> }.into_any())
}

#[component]
fn Usage() -> impl IntoView {
    let id = use_org_id();
    let query = use_query_map();
    let hours = move || query.read().get("hours").and_then(|h| h.parse::<i64>().ok()).unwrap_or(24);
    let report = Resource::new(move || (id.get(), hours()), |(id, hours)| usage(id, Some(hours)));
    let base = move || format!("/orgs/{}/usage", id.get());
    view! {
        <section class="card" aria-labelledby="usage-heading">
            <h2 id="usage-heading">"Calls per hour"</h2>
            <nav class="pager" aria-label="Period">
                <a href=move || format!("{}?hours=24", base()) aria-current=move || (hours() == 24).then_some("page")>"Last 24 hours"</a>
                <a href=move || format!("{}?hours=168", base()) aria-current=move || (hours() == 168).then_some("page")>"Last 7 days"</a>
            </nav>
            <Transition fallback=|| view! { <p class="empty">"Loading usage…"</p> }>
                {move || Suspend::new(async move {
                    match report.await {
                        Ok(report) => view! { <Report report/> }.into_any(),
                        Err(error) => view! { <SectionError error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Report(report: UsageReport) -> impl IntoView {
    let total: i64 = report.hours.iter().map(calls).sum();
    let errors: i64 = report.hours.iter().map(|h| h.client_error + h.server_error).sum();
    let peak = report.hours.iter().map(calls).max().unwrap_or(0);
    let summary = format!(
        "{total} calls in the last {} hours ({errors} answered with an error); busiest hour {peak} of the {} allowed per hour.",
        report.hours.len(),
        report.limit_per_hour
    );
    let keys =
        report.by_key.iter().map(|k| view! { <tr><td>{k.name.clone()}</td><td>{k.calls}</td></tr> }).collect_view();
    let rows = report
        .hours
        .iter()
        .rev()
        .filter(|h| calls(h) > 0)
        .map(|h| {
            view! {
                <tr><td class="nowrap">{h.hour.format("%Y-%m-%d %H:00").to_string()}</td>
                    <td>{h.success}</td><td>{h.client_error}</td><td>{h.server_error}</td></tr>
            }
        })
        .collect_view();
    view! {
        <p>{summary.clone()}</p>
        <Chart hours=report.hours.clone() limit=report.limit_per_hour summary/>
        <p class="legend">
            <span class="swatch ok"></span>" Succeeded "
            <span class="swatch client"></span>" Client errors (4xx) "
            <span class="swatch server"></span>" Server errors (5xx) "
            <span class="swatch limit"></span>" Hourly limit"
        </p>
        <h3>"By key"</h3>
        {if report.by_key.is_empty() {
            view! { <p class="empty">"No calls in this period."</p> }.into_any()
        } else {
            view! {
                <table class="table"><thead><tr><th scope="col">"Caller"</th><th scope="col">"Calls"</th></tr></thead>
                <tbody>{keys}</tbody></table>
            }.into_any()
        }}
        <details>
            <summary>"Hours with calls, as a table"</summary>
            <table class="table">
                <thead><tr><th scope="col">"Hour (UTC)"</th><th scope="col">"Succeeded"</th>
                    <th scope="col">"4xx"</th><th scope="col">"5xx"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </details>
    }
}

fn calls(h: &UsageHour) -> i64 {
    h.success + h.client_error + h.server_error
}

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;

/// Stacked bars per hour on a scale that always includes the limit, so the chart reads as "how
/// close to the limit".
#[component]
fn Chart(hours: Vec<UsageHour>, limit: i64, summary: String) -> impl IntoView {
    let top = hours.iter().map(calls).max().unwrap_or(0).max(limit).max(1) as f64;
    let slot = WIDTH / hours.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = move |value: f64| HEIGHT - value / top * HEIGHT;
    let bars = hours
        .iter()
        .enumerate()
        .flat_map(|(i, h)| {
            let x = i as f64 * slot + (slot - bar) / 2.0;
            let mut base = 0.0;
            [(h.success, "ok"), (h.client_error, "client"), (h.server_error, "server")]
                .into_iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, class)| {
                    let (from, to) = (base, base + n as f64);
                    base = to;
                    view! { <rect class=class x=format!("{x:.1}") y=format!("{:.1}", y(to)) width=format!("{bar:.1}")
                    height=format!("{:.1}", y(from) - y(to))/> }
                })
                .collect::<Vec<_>>()
        })
        .collect_view();
    let limit_y = format!("{:.1}", y(limit as f64));
    view! {
        <svg class="usage-chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-labelledby="usage-chart-title"
            preserveAspectRatio="none">
            <title id="usage-chart-title">{summary}</title>
            {bars}
            <line class="limit" x1="0" x2=WIDTH.to_string() y1=limit_y.clone() y2=limit_y/>
        </svg>
    }
}
