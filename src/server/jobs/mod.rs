//! Background workers. Each runs until the shutdown signal flips, finishing the item in hand.
pub mod mailer;
pub mod sweeper;
pub mod usage;
pub mod webhooks;
