//! Publishing: the sinks (stdout, file, webhook, the live stream), Prometheus metrics and
//! the HTTP API.

pub mod enforcement;
pub mod http;
pub mod metrics;
pub mod sinks;
