//! The command-line clients of the daemon's API (`advise`, `tail`) and the HTTP client
//! they share.

pub mod advise;
pub mod client;
pub mod tail;
