//! `AppError` on the wire, request ids, and the JSON extractor whose rejections name the problem.
use crate::shared::error::{AppError, ErrorCode, ErrorKind};
use axum::{
    extract::{rejection::JsonRejection, FromRequest, Request},
    http::{header, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
};
use serde::de::DeserializeOwned;

tokio::task_local! {
    /// The id of the request being served, for error references and logs.
    static REQUEST_ID: String;
}

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Gives every request an id (kept if a trusted proxy sent a sane one), makes it available to
/// `internal()` and echoes it in `x-request-id`.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("invalid"));
    req.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut response = tracing::Instrument::instrument(REQUEST_ID.scope(id, next.run(req)), span).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, value);
    response
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "background".to_owned())
}

/// Logs the cause of an unexpected failure under the request id and returns a 500 that shows only
/// that id.
pub fn internal(cause: impl std::fmt::Display) -> AppError {
    let reference = current_request_id();
    tracing::error!(request_id = %reference, "internal error: {cause}");
    AppError::internal_reference(&reference)
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after();
        let mut response = (status, axum::Json(self.to_json_body())).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// `axum::Json`, but every rejection is an `AppError`: malformed JSON → 400 naming the position,
/// a missing or mistyped field → 422 naming the field, wrong content type → 415.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| json_rejection(JsonRejection::BytesRejection(e)))?;
        refuse_arrays(&bytes)?;
        let mut again = Request::new(axum::body::Body::from(bytes.clone()));
        *again.headers_mut() = headers;
        match axum::Json::<T>::from_request(again, state).await {
            Ok(axum::Json(value)) => Ok(AppJson(value)),
            Err(JsonRejection::JsonDataError(e)) => {
                whole_numbers(&bytes).ok_or_else(|| json_rejection(JsonRejection::JsonDataError(e))).map(AppJson)
            }
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// Parses a JSON body already read, with the same errors as `AppJson`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    refuse_arrays(bytes)?;
    match axum::Json::<T>::from_bytes(bytes) {
        Ok(axum::Json(value)) => Ok(value),
        Err(JsonRejection::JsonDataError(e)) => {
            whole_numbers(bytes).ok_or_else(|| json_rejection(JsonRejection::JsonDataError(e)))
        }
        Err(rejection) => Err(json_rejection(rejection)),
    }
}

/// Every request body is an object, but serde also fills a struct from an array of its fields in
/// order (`[null]`): refused here, so only what the document describes is accepted.
pub fn refuse_arrays(bytes: &[u8]) -> Result<(), AppError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => Err(AppError::new(
            ErrorKind::Validation,
            ErrorCode::ValidationFailed,
            "The request body must be a JSON object.",
        )),
        _ => Ok(()),
    }
}

/// JSON does not tell `20` from `20.0` (JSON Schema calls both integers), but serde's integers take
/// only the first: a body refused for its types is tried once more with every whole number written
/// as an integer. Only when the first try fails, so every other body and every error is as before.
pub fn whole_numbers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    fn rewrite(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => {
                    *value = serde_json::Value::from(f as i64);
                    true
                }
                _ => false,
            },
            // Every value is visited (no short circuit): each one may need rewriting.
            serde_json::Value::Array(items) => items.iter_mut().map(rewrite).collect::<Vec<_>>().contains(&true),
            serde_json::Value::Object(fields) => fields.values_mut().map(rewrite).collect::<Vec<_>>().contains(&true),
            _ => false,
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !rewrite(&mut value) {
        return None;
    }
    serde_json::from_value(value).ok()
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    match rejection {
        JsonRejection::JsonDataError(e) => {
            // serde's message looks like "name: missing field `name` at line 1 column 2"
            let detail = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.body_text());
            let field = field_from_serde_message(&detail);
            let mut err = AppError::new(
                ErrorKind::Validation,
                ErrorCode::ValidationFailed,
                format!("Invalid request body: {detail}"),
            );
            if let Some(field) = field {
                err = err.with_detail("field", field);
            }
            err
        }
        JsonRejection::JsonSyntaxError(e) => {
            let detail = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.body_text());
            AppError::bad_request(ErrorCode::MalformedJson, format!("The request body is not valid JSON: {detail}"))
        }
        JsonRejection::MissingJsonContentType(_) => AppError::new(
            ErrorKind::UnsupportedMediaType,
            ErrorCode::UnsupportedMediaType,
            "Send the request body as JSON with `Content-Type: application/json`.",
        ),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        other => AppError::bad_request(ErrorCode::BadRequest, other.body_text()),
    }
}

pub fn payload_too_large() -> AppError {
    AppError::new(ErrorKind::PayloadTooLarge, ErrorCode::PayloadTooLarge, "The request body is larger than 1 MiB.")
}

/// Picks the field name out of serde_json's error text: "missing field `x`", or the path prefix
/// serde_path_to_error-style messages start with ("x: invalid type").
fn field_from_serde_message(message: &str) -> Option<String> {
    if let Some(rest) = message.split("missing field `").nth(1) {
        return rest.split('`').next().map(str::to_owned);
    }
    let (path, _) = message.split_once(": ")?;
    (!path.contains(' ') && !path.is_empty() && path != ".").then(|| path.to_owned())
}

/// `axum::extract::Path`, but a malformed id answers 404 like a missing resource.
pub struct AppPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for AppPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| AppPath(value))
            .map_err(|_| AppError::not_found("resource"))
    }
}

/// `axum::extract::Query`, but a bad parameter answers 422 naming it.
pub struct AppQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for AppQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| AppQuery(value))
            .map_err(|e| {
                let detail = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_else(|| e.body_text());
                let err = AppError::new(
                    ErrorKind::Validation,
                    ErrorCode::ValidationFailed,
                    format!("Invalid query string: {detail}"),
                );
                match field_from_serde_message(&detail) {
                    Some(field) => err.with_detail("field", field),
                    None => err,
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::field_from_serde_message;

    #[test]
    fn finds_field_names_in_serde_messages() {
        assert_eq!(field_from_serde_message("missing field `email` at line 1 column 2").as_deref(), Some("email"));
        assert_eq!(
            field_from_serde_message("name: invalid type: integer `5`, expected a string").as_deref(),
            Some("name")
        );
        assert_eq!(field_from_serde_message("invalid type: map, expected a string"), None);
    }
}
