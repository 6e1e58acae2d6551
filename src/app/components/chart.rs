//! A stacked bar chart in SVG, drawn on the server (no script needed), with an optional dashed
//! limit line. Its `<title>` carries a sentence summarising the numbers for screen readers.
use leptos::prelude::*;

/// One bar: its segments from the bottom up, as (value, CSS class).
pub type Stack = Vec<(i64, &'static str)>;

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;

/// The scale always includes `limit`, so the chart reads as "how close to the limit".
#[component]
pub fn StackedBars(stacks: Vec<Stack>, limit: Option<i64>, summary: String, title_id: &'static str) -> impl IntoView {
    let total = |stack: &Stack| stack.iter().map(|(n, _)| n).sum::<i64>();
    let top = stacks.iter().map(total).max().unwrap_or(0).max(limit.unwrap_or(0)).max(1) as f64;
    let slot = WIDTH / stacks.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = move |value: f64| HEIGHT - value / top * HEIGHT;
    let bars = stacks
        .iter()
        .enumerate()
        .flat_map(|(i, stack)| {
            let x = i as f64 * slot + (slot - bar) / 2.0;
            let mut base = 0.0;
            stack
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, class)| {
                    let (from, to) = (base, base + *n as f64);
                    base = to;
                    view! { <rect class=*class x=format!("{x:.1}") y=format!("{:.1}", y(to)) width=format!("{bar:.1}")
                    height=format!("{:.1}", y(from) - y(to))/> }
                })
                .collect::<Vec<_>>()
        })
        .collect_view();
    let limit_line = limit.map(|limit| {
        let limit_y = format!("{:.1}", y(limit as f64));
        view! { <line class="limit" x1="0" x2=WIDTH.to_string() y1=limit_y.clone() y2=limit_y/> }
    });
    view! {
        <svg class="usage-chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-labelledby=title_id
            preserveAspectRatio="none">
            <title id=title_id>{summary}</title>
            {bars}
            {limit_line}
        </svg>
    }
}
