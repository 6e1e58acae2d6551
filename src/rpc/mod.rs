//! Server functions for the dashboard, under `/rpc/`: each is a few lines that call
//! `server::service`, exactly like the `/api/v1` handlers. Forms post to them directly, so every
//! one works without JavaScript (success redirects; errors come back in the URL for the page).
pub mod accounts;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod dev_outbox;
pub mod domains;
pub mod invitations;
pub mod members;
pub mod orgs;
pub mod sso;
pub mod usage;
pub mod webhooks;

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::server::{
        auth::{
            principal::{ClientMeta, SignedIn},
            session,
        },
        authz::{authorize, OrgScope},
        error::internal,
        state::AppState,
    };
    use crate::shared::{
        error::AppError,
        roles::{Permission, Role},
    };
    use leptos::prelude::use_context;
    use tower_sessions::Session;

    pub fn app() -> Result<AppState, AppError> {
        use_context::<AppState>().ok_or_else(|| internal("AppState missing from the Leptos context"))
    }

    pub async fn browser_session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>().await.map_err(internal)
    }

    pub async fn client() -> Result<ClientMeta, AppError> {
        leptos_axum::extract::<ClientMeta>().await.map_err(internal)
    }

    /// The signed-in user, or `None` for a visitor.
    pub async fn maybe_signed_in() -> Result<(AppState, Option<SignedIn>), AppError> {
        let app = app()?;
        let who = session::signed_in(&app, &browser_session().await?).await?;
        Ok((app, who))
    }

    /// The signed-in user, or 401.
    pub async fn signed_in() -> Result<(AppState, SignedIn), AppError> {
        let (app, who) = maybe_signed_in().await?;
        Ok((app, who.ok_or_else(AppError::unauthenticated)?))
    }

    /// Gives an error its HTTP status for script callers. Plain form posts keep the redirect back
    /// to the form that Leptos makes (the error travels in the URL).
    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(err) = &result {
            let form_post = use_context::<http::request::Parts>()
                .and_then(|parts| {
                    parts.headers.get(http::header::ACCEPT)?.to_str().ok().map(|a| a.contains("text/html"))
                })
                .unwrap_or(false);
            if let (false, Some(response)) = (form_post, use_context::<leptos_axum::ResponseOptions>()) {
                response.set_status(
                    http::StatusCode::from_u16(err.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR),
                );
                if let Some(secs) = err.retry_after() {
                    response.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
                }
            }
        }
        result
    }

    /// Adds a `Set-Cookie` to the answer (beside the session cookie, which its layer sets).
    pub fn append_cookie(cookie: http::HeaderValue) {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.append_header(http::header::SET_COOKIE, cookie);
        }
    }

    /// Success: send the browser to `path` (a real 302 for forms, a client navigation otherwise).
    pub fn go(path: &str) -> Result<(), AppError> {
        leptos_axum::redirect(path);
        Ok(())
    }

    /// Parses an id from a form or path; a malformed one is as unknown as another organization's.
    pub fn id<T: std::str::FromStr>(raw: &str, what: &str) -> Result<T, AppError> {
        raw.trim().parse().map_err(|_| AppError::not_found(what))
    }

    /// The signed-in user's scope in organization `org_id`: membership is checked here, each
    /// operation's own permission inside the service. Everything taken from the request is taken
    /// before the first database call: during server rendering Leptos may drop a page's first render
    /// (and the request context with it) while its data still loads, and a lookup after that fails.
    pub async fn scope(org_id: &str) -> Result<(AppState, OrgScope), AppError> {
        let client = client().await?;
        let (app, who) = signed_in().await?;
        let org = id(org_id, "organization")?;
        let scope = authorize(&app.db, &who, &client, org, Permission::OrgRead).await?;
        Ok((app, scope))
    }

    /// The frame of every organization server function: authorize membership of `org_id`, run
    /// `work` with the app and the scope, and answer as `respond` does.
    pub async fn in_org<T, F, Fut>(org_id: &str, work: F) -> Result<T, AppError>
    where
        F: FnOnce(AppState, OrgScope) -> Fut,
        Fut: std::future::Future<Output = Result<T, AppError>>,
    {
        respond(
            async {
                let (app, scope) = scope(org_id).await?;
                work(app, scope).await
            }
            .await,
        )
    }

    pub fn role(raw: &str) -> Result<Role, AppError> {
        Role::parse(raw).ok_or_else(|| AppError::invalid_field("role", "Choose one of the roles offered."))
    }

    /// An empty query parameter means "none" (a GET form sends `cursor=` as well as no cursor at all).
    pub fn given(value: Option<String>) -> Option<String> {
        value.filter(|v| !v.trim().is_empty())
    }

    /// The page a list's `cursor` asks for (the dashboard shows the default page size).
    pub fn page(cursor: Option<String>) -> Result<crate::server::pagination::PageRequest, AppError> {
        crate::server::pagination::PageRequest::parse(None, given(cursor).as_deref())
    }
}
