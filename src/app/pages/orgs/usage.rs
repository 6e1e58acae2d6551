//! `/orgs/:id/usage`: API calls per hour over the last day (or week), drawn as an SVG bar chart
//! against the plan's hourly limit, with the same numbers in a table.
use super::{org_page_with, OrgFrameData, Section, SectionError};
use crate::app::components::chart::StackedBars;
use crate::rpc::usage::usage;
use crate::shared::{
    error::AppError,
    usage::{UsageHour, UsageReport},
};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

#[component]
pub fn OrgUsagePage() -> impl IntoView {
    let frame = OrgFrameData::load();
    let query = use_query_map();
    let hours = Signal::derive(move || query.read().get("hours").and_then(|h| h.parse::<i64>().ok()).unwrap_or(24));
    let report = Resource::new(move || (frame.id.get(), hours.get()), |(id, hours)| usage(id, Some(hours)));
    let id = frame.id;
    org_page_with(frame, Section::Usage, "API usage", move |_| view! { <Usage id hours report/> }.into_any())
}

#[component]
fn Usage(id: Signal<String>, hours: Signal<i64>, report: Resource<Result<UsageReport, AppError>>) -> impl IntoView {
    let hours = move || hours.get();
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
    let plural = |n: i64, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let summary = format!(
        "{} in the last {} hours ({} answered with an error); busiest hour {peak} of the {} allowed per hour.",
        plural(total, "call", "calls"),
        report.hours.len(),
        errors,
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
    let stacks = report
        .hours
        .iter()
        .map(|h| vec![(h.success, "ok"), (h.client_error, "client"), (h.server_error, "server")])
        .collect();
    view! {
        <p>{summary.clone()}</p>
        <StackedBars stacks limit=Some(report.limit_per_hour) summary title_id="usage-chart-title"/>
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
