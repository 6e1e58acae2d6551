//! Cursor pagination shared by every list: `?limit=&cursor=`, default 50, at most 200. Cursors are
//! opaque to clients ("<millis>.<id>" in base64url) and resume after the last row shown.
use crate::shared::{accounts::Page, error::AppError};
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

/// A list request as parsed at the edge: how many items to show and where to resume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// 1–200.
    pub limit: i64,
    /// The decoded cursor: (millis, id) of the last item of the previous page.
    pub after: Option<(i64, String)>,
}

/// Handlers take the page as parsed: `page: PageRequest` reads `?limit=&cursor=` (422 naming the
/// field when either is bad).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PageRequest {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, AppError> {
        let crate::server::error::AppQuery(params) =
            crate::server::error::AppQuery::<PageParams>::from_request_parts(parts, state).await?;
        PageRequest::parse(params.limit, params.cursor.as_deref())
    }
}

impl PageRequest {
    /// Checks `limit` (default 50) and decodes `cursor`; a bad one is a 422 naming the field.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>) -> Result<PageRequest, AppError> {
        let limit = match limit.unwrap_or(DEFAULT_LIMIT) {
            n @ 1..=MAX_LIMIT => n,
            _ => return Err(AppError::invalid_field("limit", "limit must be between 1 and 200.")),
        };
        Ok(PageRequest { limit, after: cursor.map(decode).transpose()? })
    }

    /// Binds what `Keyset::page_sql` put after the query's own placeholders: the cursor (when
    /// resuming), then the row count, one more than the page shows so `finish` can tell whether
    /// another page follows.
    pub fn bind<'q>(&self, mut query: AnyQuery<'q>) -> AnyQuery<'q> {
        if let Some((at, id)) = &self.after {
            query = query.bind(*at).bind(id.clone());
        }
        query.bind(self.limit + 1)
    }

    /// The page: the extra row trimmed, and the cursor of the last row kept when there is more.
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> (i64, String)) -> Page<T> {
        let next_cursor = if rows.len() as i64 > self.limit {
            rows.truncate(self.limit as usize);
            rows.last().map(|row| {
                let (at, id) = key(row);
                encode(at, &id)
            })
        } else {
            None
        };
        Page { data: rows, next_cursor }
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The order of a list: a time column (Unix millis), then an id column breaking ties, both
/// ascending or both descending. Pages resume strictly after the cursor's (time, id).
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    at: &'static str,
    id: &'static str,
    newest_first: bool,
}

/// The most common order: newest `created_at` first.
pub const NEWEST_FIRST: Keyset = Keyset::newest_first("created_at", "id");

impl Keyset {
    pub const fn newest_first(at: &'static str, id: &'static str) -> Keyset {
        Keyset { at, id, newest_first: true }
    }

    pub const fn oldest_first(at: &'static str, id: &'static str) -> Keyset {
        Keyset { at, id, newest_first: false }
    }

    /// The end of a list query whose WHERE clause used placeholders `$1..=$used`: ` AND` the
    /// resume condition (when there is a cursor), `ORDER BY` and `LIMIT`, numbered on from
    /// `used`. `PageRequest::bind` binds them in the same order.
    pub fn page_sql(&self, page: &PageRequest, used: usize) -> String {
        let Keyset { at, id, newest_first } = *self;
        let (cmp, dir) = if newest_first { ('<', " DESC") } else { ('>', "") };
        let mut sql = String::new();
        let mut next = used + 1;
        if page.after.is_some() {
            let (a, i) = (next, next + 1);
            sql.push_str(&format!(" AND ({at} {cmp} ${a} OR ({at} = ${a} AND {id} {cmp} ${i}))"));
            next += 2;
        }
        sql.push_str(&format!(" ORDER BY {at}{dir}, {id}{dir} LIMIT ${next}"));
        sql
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode(&encode(42, "abc")).unwrap(), (42, "abc".to_owned()));
        assert_eq!(decode("%%%").unwrap_err().field(), Some("cursor"));
        assert_eq!(PageRequest::parse(None, Some("%%%")).unwrap_err().field(), Some("cursor"));
        assert_eq!(PageRequest::parse(Some(0), None).unwrap_err().field(), Some("limit"));
        assert!(PageRequest::parse(Some(201), None).is_err());
        assert_eq!(PageRequest::parse(None, None).unwrap(), PageRequest { limit: 50, after: None });
        let page = PageRequest::parse(Some(2), None).unwrap().finish(vec![1, 2, 3], |r| (*r, r.to_string()));
        assert_eq!((page.data, page.next_cursor), (vec![1, 2], Some(encode(2, "2"))));
        let page = PageRequest::parse(Some(3), None).unwrap().finish(vec![1, 2, 3], |r| (*r, r.to_string()));
        assert_eq!((page.data, page.next_cursor), (vec![1, 2, 3], None));
    }

    #[test]
    fn keyset_sql_numbers_on_from_the_query() {
        let first = PageRequest::parse(None, None).unwrap();
        let resumed = PageRequest::parse(None, Some(&encode(7, "x"))).unwrap();
        let newest = Keyset::newest_first("created_at", "id");
        assert_eq!(newest.page_sql(&first, 1), " ORDER BY created_at DESC, id DESC LIMIT $2");
        assert_eq!(
            newest.page_sql(&resumed, 1),
            " AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
        );
        assert_eq!(
            Keyset::oldest_first("m.joined_at", "m.user_id").page_sql(&resumed, 2),
            " AND (m.joined_at > $3 OR (m.joined_at = $3 AND m.user_id > $4)) ORDER BY m.joined_at, m.user_id LIMIT $5"
        );
    }
}
