//! Pieces every page uses: the header, notices and alerts, form fields.
pub mod chart;
pub mod form;
pub mod layout;
