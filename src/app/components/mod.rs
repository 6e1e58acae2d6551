//! Pieces every page uses: the header, notices and alerts, form fields.
pub mod form;
pub mod layout;
