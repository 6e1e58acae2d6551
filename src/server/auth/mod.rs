//! Who is asking: passwords, one-time tokens, browser sessions, throttling and the `Principal`.
pub mod api_key;
pub mod device;
pub mod password;
pub mod principal;
pub mod session;
pub mod throttle;
pub mod token;
