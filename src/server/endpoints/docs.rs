//! `/docs`: the hand-written guides (Markdown in `docs/guides/`, compiled into the binary and
//! rendered here) and `/docs/api`, the API reference and playground (Swagger UI, bundled in the
//! binary by `utoipa-swagger-ui`'s `vendored` feature, reading `/api/v1/openapi.json`). Nothing is
//! loaded from another site.
use crate::server::state::AppState;
use axum::{
    extract::Path,
    http::StatusCode,
    response::{Html, IntoResponse, Redirect, Response},
    routing::get,
    Router,
};
use utoipa_swagger_ui::{Config, SwaggerUi};

/// One guide: its address under `/docs/guides/`, a line for the index, and its Markdown (whose
/// first `# ` line is the title).
pub struct Guide {
    pub slug: &'static str,
    pub summary: &'static str,
    pub markdown: &'static str,
}

/// `guides![slug => summary, ...]`: each guide's text is `docs/guides/<slug>.md`, compiled in.
macro_rules! guides {
    ($($slug:literal => $summary:literal,)+) => {
        &[$(Guide { slug: $slug, summary: $summary, markdown: include_str!(concat!("../../../docs/guides/", $slug, ".md")) },)+]
    };
}

pub const GUIDES: &[Guide] = guides![
    "authentication" => "Session cookies for browsers, API keys for everything else.",
    "pagination" => "Cursor pages: `limit`, `cursor` and `next_cursor`.",
    "errors" => "One error shape, its HTTP statuses and every error code.",
    "rate-limits" => "Per key, per organization and per client address; the RateLimit headers.",
    "versioning" => "What may change within v1, and how deprecations are announced.",
    "idempotency" => "Retry a POST safely with `Idempotency-Key`.",
    "webhooks" => "Signed events with retries: set up, verify, the event catalogue.",
    "sso" => "Single sign-on: OIDC and LDAP connections, role mapping, domains, requiring SSO.",
];

pub fn router() -> Router<AppState> {
    let config = Config::new(["/api/v1/openapi.json"])
        .try_it_out_enabled(true)
        .persist_authorization(true)
        .display_operation_id(true)
        .filter(true)
        // The default validator is an image from validator.swagger.io: nothing leaves this site.
        .validator_url("none");
    let reference: Router<AppState> = SwaggerUi::new("/docs/api").config(config).into();
    Router::new()
        .route("/docs", get(index))
        .route("/docs/", get(|| async { Redirect::permanent("/docs") }))
        .route("/docs/guides/{slug}", get(guide))
        .merge(reference)
}

pub fn title(guide: &Guide) -> &'static str {
    guide.markdown.lines().find_map(|line| line.strip_prefix("# ")).unwrap_or(guide.slug).trim()
}

async fn index() -> Html<String> {
    let mut body = String::from(
        "<h1>Gatehouse API documentation</h1>\n<p>The JSON API lives at <code>/api/v1</code>. \
         The <a href=\"/docs/api\">API reference</a> lists every operation with its parameters, \
         answers and the permission it needs, and lets you try requests: signed in to the dashboard, \
         your session is used; or choose <em>Authorize</em> and paste one of your API keys. \
         The machine-readable description is <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a> \
         (OpenAPI 3.1).</p>\n<h2>Guides</h2>\n<ul class=\"guide-list\">\n",
    );
    for guide in GUIDES {
        body.push_str(&format!(
            "<li><a href=\"/docs/guides/{}\">{}</a> — {}</li>\n",
            guide.slug,
            escape(title(guide)),
            markdown(guide.summary).trim().trim_start_matches("<p>").trim_end_matches("</p>"),
        ));
    }
    body.push_str("</ul>\n");
    Html(page("API documentation", None, &body))
}

async fn guide(Path(slug): Path<String>) -> Response {
    match GUIDES.iter().find(|g| g.slug == slug) {
        Some(guide) => {
            let mut source = guide.markdown.to_owned();
            if guide.slug == "webhooks" {
                source.push_str(&event_reference());
            }
            Html(page(title(guide), Some(guide.slug), &markdown(&source))).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Html(page(
                "No such guide",
                None,
                "<h1>No such guide</h1><p>See the <a href=\"/docs\">list of guides</a>.</p>",
            )),
        )
            .into_response(),
    }
}

/// The event catalogue as Markdown, generated from the same table the API serves, so the
/// reference cannot drift from what is sent.
fn event_reference() -> String {
    let mut out = String::from("\n| type | when |\n|---|---|\n");
    let types = crate::server::service::webhooks::catalogue::event_types();
    for event in &types {
        out.push_str(&format!("| `{}` | {} |\n", event.name, event.description));
    }
    for event in &types {
        let schema = serde_json::to_string_pretty(&event.schema).unwrap_or_default();
        out.push_str(&format!("\n### `{}`\n\n{}\n\n```json\n{schema}\n```\n", event.name, event.description));
    }
    out
}

fn markdown(source: &str) -> String {
    use pulldown_cmark::{html, Options, Parser};
    let mut out = String::new();
    html::push_html(&mut out, Parser::new_ext(source, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH));
    out
}

fn page(heading: &str, current: Option<&str>, body: &str) -> String {
    let mut nav = String::new();
    for guide in GUIDES {
        let aria = if current == Some(guide.slug) { " aria-current=\"page\"" } else { "" };
        nav.push_str(&format!("<li><a href=\"/docs/guides/{}\"{aria}>{}</a></li>", guide.slug, escape(title(guide))));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} · Gatehouse docs</title>\n<link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\">\n</head>\n<body>\n\
         <a class=\"skip-link\" href=\"#main\">Skip to content</a>\n\
         <header class=\"site-header\"><nav class=\"container nav\" aria-label=\"Main\">\
         <a class=\"brand\" href=\"/\">Gatehouse</a><div class=\"nav-user\">\
         <a class=\"nav-link\" href=\"/docs\">Docs</a><a class=\"nav-link\" href=\"/docs/api\">API reference</a>\
         <a class=\"nav-link\" href=\"/orgs\">Dashboard</a></div></nav></header>\n\
         <main id=\"main\" class=\"container docs\">\n<nav class=\"docs-nav\" aria-label=\"Guides\"><ul>\
         <li><a href=\"/docs\"{home}>Overview</a></li>{nav}<li><a href=\"/docs/api\">API reference</a></li></ul></nav>\n\
         <article class=\"card prose\">\n{body}</article>\n</main>\n</body>\n</html>\n",
        title = escape(heading),
        home = if current.is_none() { " aria-current=\"page\"" } else { "" },
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guides_have_titles_and_render() {
        for guide in GUIDES {
            assert!(guide.markdown.starts_with("# "), "{}: starts with its title", guide.slug);
            let html = markdown(guide.markdown);
            assert!(html.contains("<h1>"), "{}", guide.slug);
        }
        assert!(markdown("| a |\n|---|\n| b |").contains("<table>"));
    }
}
