//! Webhooks: endpoints and their delivery log (`endpoints`), the event types and their payload
//! schemas (`catalogue`), the event outbox fed by the audit log (`outbox`), and delivery attempts
//! with Standard Webhooks signatures and retries (`delivery`).
//!
//! Events come from `audit::append`: every change is audited in its own transaction, so writing
//! the event rows there puts each event in the same transaction as the change that causes it,
//! with no second call to forget in each service.
pub mod catalogue;
pub mod delivery;
pub mod endpoints;
pub mod outbox;
