//! The client side of the daemon's API, shared by `privmon tail` and `privmon advise`:
//! where the daemon listens, its bearer token, and requests whose non-200 answers become
//! errors carrying the daemon's reason.

use anyhow::Context as _;

/// How to reach a running daemon.
#[derive(Clone, Debug, clap::Args)]
pub struct DaemonArgs {
    /// Daemon address (its `listen`).
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::config::DEFAULT_LISTEN)]
    pub address: String,
    /// Bearer token, when the daemon requires one.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PRIVMON_API_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

impl Default for DaemonArgs {
    fn default() -> Self {
        DaemonArgs {
            address: crate::config::DEFAULT_LISTEN.to_string(),
            token: None,
        }
    }
}

impl DaemonArgs {
    /// The URL of `path` with the query parameters that have a value (percent-encoded).
    pub fn url(&self, path: &str, query: &[(&str, Option<&str>)]) -> String {
        let q: Vec<String> = query
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}={}", encode(v))))
            .collect();
        format!("http://{}{path}?{}", self.address, q.join("&"))
    }

    /// GETs `url`; the body of a 200 answer.
    pub fn get(&self, url: &str) -> anyhow::Result<ureq::Body> {
        let mut req = agent().get(url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.ok_body(req.call())
    }

    /// POSTs to `url` with no body; the body of a 200 answer.
    pub fn post(&self, url: &str) -> anyhow::Result<ureq::Body> {
        let mut req = agent().post(url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        self.ok_body(req.send_empty())
    }

    /// The body of a 200 answer; anything else is an error with the daemon's reason.
    fn ok_body(
        &self,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<ureq::Body> {
        let resp = resp.with_context(|| format!("connecting to privmon at {}", self.address))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        if status != 200 {
            let text = body.read_to_string().unwrap_or_default();
            anyhow::bail!("privmon answered {status}: {}", text.trim());
        }
        Ok(body)
    }
}

/// An HTTP client for the daemon's API: statuses are answers, not errors.
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay as they are).
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
