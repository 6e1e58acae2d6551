//! Cursor pagination shared by every list: `?limit=&cursor=`, default 50, at most 200. Cursors are
//! opaque to clients ("<millis>.<id>" in base64url) and resume after the last row shown.
use crate::shared::error::AppError;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The query parameters every list takes: handlers read them (`AppQuery<PageParams>`) and the
/// OpenAPI document shows them (`params(PageParams)` in a handler's `#[utoipa::path]`).
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// How many items to return, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200, default = 50)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page; omit it for the first page.
    pub cursor: Option<String>,
}

pub fn limit(requested: Option<i64>) -> Result<i64, AppError> {
    match requested.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(AppError::invalid_field("limit", "limit must be between 1 and 200.")),
    }
}

pub fn encode(at_millis: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{at_millis}.{id}"))
}

pub fn decode(cursor: &str) -> Result<(i64, String), AppError> {
    let bad = || AppError::invalid_field("cursor", "cursor is not one this API returned.");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, id) = raw.split_once('.').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_owned()))
}

/// Fetching `limit + 1` rows tells whether there is a next page; this trims the extra row and
/// returns the cursor of the last row kept.
pub fn finish<T>(rows: &mut Vec<T>, limit: i64, key: impl Fn(&T) -> (i64, String)) -> Option<String> {
    if rows.len() as i64 <= limit {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(|row| {
        let (at, id) = key(row);
        encode(at, &id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode(&encode(42, "abc")).unwrap(), (42, "abc".to_owned()));
        assert_eq!(decode("%%%").unwrap_err().field(), Some("cursor"));
        assert!(limit(Some(0)).is_err() && limit(Some(201)).is_err());
        assert_eq!(limit(None).unwrap(), 50);
        let mut rows = vec![1, 2, 3];
        assert_eq!(finish(&mut rows, 2, |r| (*r, r.to_string())), Some(encode(2, "2")));
        assert_eq!(rows, vec![1, 2]);
    }
}
