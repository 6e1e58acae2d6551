//! What nearly every service imports: its state, the caller's scope in an organization, the
//! database, the audit log, paging and errors. `use super::prelude::*;` (or `crate::server::service::prelude::*`).
pub use crate::server::{
    authz::OrgScope,
    db::{self, Tx},
    pagination::PageRequest,
    service::audit::{self, Event},
    state::AppState,
};
pub use crate::shared::{
    accounts::Page,
    audit::Action,
    error::{AppError, ErrorCode},
};
