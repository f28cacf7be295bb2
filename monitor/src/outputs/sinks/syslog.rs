//! Syslog, RFC 5424 messages: over UDP (RFC 5426, one message per datagram), TCP with
//! octet-counting framing (RFC 6587), TLS with the same framing (RFC 5425), or a unix
//! datagram socket (`/dev/log`). The event's
//! JSON line is the message; the container and the pod go in structured data, so a
//! receiver can route on them without parsing JSON. A message longer than `max_bytes` is
//! cut there and counted (RFC 5426 asks receivers to take 480 bytes, 2048 should work:
//! privmon's alerts run to 2 KB and more).

use std::{
    fmt::Write as _,
    io::Write as _,
    net::{TcpStream, ToSocketAddrs, UdpSocket},
    os::unix::net::UnixDatagram,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use serde_json::Value;
use tracing::{info, warn};

use super::{Record, SinkStats};
use crate::{
    queue,
    rules::Severity,
    scrape::{Scrape, Source},
};

pub use crate::config::{SYSLOG_FACILITIES as FACILITIES, SyslogAddress as Address};

#[derive(Clone, Debug)]
pub struct Settings {
    pub address: Address,
    /// For `tls://`: the client's TLS configuration (the CAs it trusts).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Index in [`FACILITIES`].
    pub facility: u8,
    pub max_bytes: usize,
    /// The message's HOSTNAME: the node.
    pub hostname: String,
}

/// Messages cut at `max_bytes`; the metric made of it.
#[derive(Debug, Default)]
pub struct Truncated(pub AtomicU64);

impl Source for Truncated {
    fn collect(&self, scrape: &mut Scrape) -> anyhow::Result<()> {
        scrape.counter_series(
            "privmon_syslog_truncated_total",
            "Syslog messages cut at syslog_max_bytes (sent cut, not lost).",
            &[],
            self.0.load(Relaxed),
        )
    }
}

/// The TLS client configuration of `tls://`: the CAs of a PEM file (the receiver's CA, or
/// the system's bundle).
pub fn tls_config(ca_file: &std::path::Path) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    use anyhow::Context as _;
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
        .with_context(|| format!("reading the syslog TLS CA file {}", ca_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing the syslog TLS CA file {}", ca_file.display()))?;
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    anyhow::ensure!(
        added > 0,
        "the syslog TLS CA file {} holds no usable certificate",
        ca_file.display()
    );
    // ring has no post-quantum key exchange (rustls deprecates its provider for that);
    // aws-lc-rs, which has, needs cmake and a C toolchain in every build. A syslog link
    // with classical X25519/P-256 is what RFC 5425 receivers speak today.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A connection to the receiver, made again after a failure.
enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Unix(UnixDatagram),
}

fn resolve(a: &str) -> std::io::Result<std::net::SocketAddr> {
    a.to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
}

fn tcp(a: &str) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&resolve(a)?, Duration::from_secs(5))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

fn connect(address: &Address, tls: Option<&Arc<rustls::ClientConfig>>) -> std::io::Result<Conn> {
    Ok(match address {
        Address::Udp(a) => {
            let to = resolve(a)?;
            let bind = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            let s = UdpSocket::bind(bind)?;
            s.connect(to)?;
            Conn::Udp(s)
        }
        Address::Tcp(a) => Conn::Tcp(tcp(a)?),
        Address::Tls(a) => {
            let other = |e: String| std::io::Error::other(e);
            let config = tls.ok_or_else(|| other("no TLS configuration".into()))?;
            let host = a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let name = rustls::pki_types::ServerName::try_from(host.to_string())
                .map_err(|e| other(format!("`{host}`: {e}")))?;
            let conn = rustls::ClientConnection::new(config.clone(), name)
                .map_err(|e| other(e.to_string()))?;
            let mut stream = rustls::StreamOwned::new(conn, tcp(a)?);
            // The handshake now, so that a refused certificate shows at connect.
            while stream.conn.is_handshaking() {
                stream.conn.complete_io(&mut stream.sock)?;
            }
            Conn::Tls(Box::new(stream))
        }
        Address::Unix(path) => {
            let s = UnixDatagram::unbound()?;
            s.connect(path)?;
            Conn::Unix(s)
        }
    })
}

impl Conn {
    fn send(&mut self, msg: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Udp(s) => s.send(msg).map(drop),
            Conn::Unix(s) => s.send(msg).map(drop),
            // RFC 6587 octet counting: "LEN SP MSG" (RFC 5425 frames TLS the same way).
            Conn::Tcp(s) => s.write_all(&framed(msg)),
            Conn::Tls(s) => {
                s.write_all(&framed(msg))?;
                s.flush()
            }
        }
    }
}

fn framed(msg: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(msg.len() + 8);
    let _ = write!(out, "{} ", msg.len());
    out.extend_from_slice(msg);
    out
}

/// How long a failed connection waits before it is tried again (events meanwhile are
/// dropped and counted).
const RECONNECT: Duration = Duration::from_secs(2);

pub fn worker(
    settings: Settings,
    truncated: Arc<Truncated>,
    rx: queue::Receiver<Arc<Record>>,
    stats: Arc<SinkStats>,
) {
    let procid = std::process::id();
    let mut conn: Option<Conn> = None;
    let mut retry_at = Instant::now();
    let mut failing = false;
    for r in rx.iter() {
        let (msg, cut) = message(&r, &settings, procid);
        if cut {
            truncated.0.fetch_add(1, Relaxed);
        }
        if conn.is_none() && Instant::now() >= retry_at {
            match connect(&settings.address, settings.tls.as_ref()) {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    retry_at = Instant::now() + RECONNECT;
                    if !failing {
                        warn!(address = ?settings.address, error = %e,
                              "syslog: cannot reach the receiver; messages are dropped and counted until it can");
                        failing = true;
                    }
                }
            }
        }
        let sent = conn.as_mut().map(|c| c.send(msg.as_bytes()));
        match sent {
            Some(Ok(())) => {
                stats.delivered.fetch_add(1, Relaxed);
                if failing {
                    info!(address = ?settings.address, "syslog: delivering again");
                    failing = false;
                }
            }
            Some(Err(e)) => {
                stats.lost.fetch_add(1, Relaxed);
                conn = None;
                retry_at = Instant::now() + RECONNECT;
                if !failing {
                    warn!(address = ?settings.address, error = %e,
                          "syslog: send failed; messages are dropped and counted until it recovers");
                    failing = true;
                }
            }
            None => {
                stats.lost.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The syslog severity of an event (RFC 5424: 2 crit ... 6 info).
fn syslog_severity(s: Option<Severity>) -> u8 {
    match s {
        Some(Severity::Critical) => 2,
        Some(Severity::High) => 3,
        Some(Severity::Medium) => 4,
        Some(Severity::Low) => 5,
        Some(Severity::Info) | None => 6,
    }
}

/// One RFC 5424 message for a record, cut at `max_bytes` (on a character boundary); and
/// whether it was cut.
pub fn message(r: &Record, s: &Settings, procid: u32) -> (String, bool) {
    let ev: Value = serde_json::from_str(&r.json).unwrap_or(Value::Null);
    let pri = u16::from(s.facility) * 8 + u16::from(syslog_severity(r.severity));
    let mut out = String::with_capacity(r.json.len() + 256);
    let _ = write!(
        out,
        "<{pri}>1 {} {} privmon {procid} {} ",
        timestamp(ev["time"].as_str()),
        header_field(&s.hostname, 255),
        header_field(&r.kind, 32),
    );
    structured_data(&mut out, r, &ev);
    out.push(' ');
    out.push_str(&r.json);
    if out.len() <= s.max_bytes {
        return (out, false);
    }
    let mut end = s.max_bytes;
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    out.truncate(end);
    (out, true)
}

/// RFC 5424's TIMESTAMP has at most six fractional digits: the event's time, cut to the
/// microsecond (`-`, the nil value, without one).
fn timestamp(t: Option<&str>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    match (t.split_once('.'), t.ends_with('Z')) {
        (Some((secs, frac)), true) => {
            let digits = frac.trim_end_matches('Z');
            format!("{secs}.{}Z", &digits[..digits.len().min(6)])
        }
        _ => t.to_string(),
    }
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` if
/// empty.
fn header_field(v: &str, max: usize) -> String {
    let s: String = v
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if s.is_empty() { "-".into() } else { s }
}

/// `[privmon@32473 kind=… rule=… severity=…][container@32473 id=… name=… image=…]
/// [k8s@32473 namespace=… pod=… container=…]`. privmon has no IANA enterprise number:
/// 32473 is the one RFC 5612 reserves for documentation and examples.
fn structured_data(out: &mut String, r: &Record, ev: &Value) {
    let mut element = |id: &str, params: &[(&str, Option<&str>)]| {
        if params.iter().all(|(_, v)| v.is_none()) {
            return;
        }
        let _ = write!(out, "[{id}@32473");
        for (k, v) in params {
            if let Some(v) = v {
                let _ = write!(out, " {k}=\"{}\"", param_value(v));
            }
        }
        out.push(']');
    };
    element(
        "privmon",
        &[
            ("kind", Some(&r.kind)),
            ("rule", r.rule.as_deref()),
            ("severity", r.severity.map(Severity::name)),
        ],
    );
    let (k, c) = r.whole_blocks(ev);
    element(
        "container",
        &[
            ("id", c["id"].as_str()),
            ("name", c["name"].as_str()),
            ("image", c["image"].as_str()),
        ],
    );
    element(
        "k8s",
        &[
            ("namespace", k["namespace"].as_str()),
            ("pod", k["pod"].as_str()),
            ("container", k["container"].as_str()),
        ],
    );
}

/// An SD-PARAM value: `"`, `\` and `]` escaped with a backslash.
fn param_value(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(max_bytes: usize) -> Settings {
        Settings {
            address: "udp://127.0.0.1:514".parse().unwrap(),
            tls: None,
            facility: 16,
            max_bytes,
            hostname: "node 1".into(),
        }
    }

    fn alert() -> Record {
        let line = json!({
            "time": "2026-11-28T20:00:00.123456789Z", "kind": "alert", "node": "n1",
            "rule": "mount_in_container", "severity": "high",
            "k8s": {"namespace": "pay\"ments", "pod": "api]7d9", "pod_uid": "u", "container": "api"},
            "container": {"id": "3f1c", "name": "api", "image": "app:1"},
        });
        Record::new(&line).unwrap()
    }

    #[test]
    fn an_alert_is_an_rfc5424_message_with_its_workload_in_structured_data() {
        let (m, cut) = message(&alert(), &settings(8192), 42);
        assert!(!cut);
        // local0 (16) * 8 + err (3) = 131.
        let head = "<131>1 2026-11-28T20:00:00.123456Z node1 privmon 42 alert ";
        assert!(m.starts_with(head), "{m}");
        let rest = &m[head.len()..];
        let sd = "[privmon@32473 kind=\"alert\" rule=\"mount_in_container\" severity=\"high\"]\
                  [container@32473 id=\"3f1c\" name=\"api\" image=\"app:1\"]\
                  [k8s@32473 namespace=\"pay\\\"ments\" pod=\"api\\]7d9\" container=\"api\"] {";
        assert!(rest.starts_with(sd), "{rest}");
        let json: Value = serde_json::from_str(&rest[sd.len() - 1..]).unwrap();
        assert_eq!(json["rule"], "mount_in_container");
    }

    #[test]
    fn a_long_message_is_cut_on_a_character_boundary_and_says_so() {
        let line = json!({"kind": "capability", "node": "n", "process": {"comm": "é".repeat(600)}});
        let r = Record::named(
            "capability",
            None,
            None,
            Default::default(),
            line.to_string(),
        );
        let (m, cut) = message(&r, &settings(480), 1);
        assert!(cut);
        assert!(m.len() <= 480 && m.len() >= 478, "{}", m.len());
        // An event with no time and no container: nil values.
        assert!(
            m.starts_with(
                "<134>1 - node1 privmon 1 capability [privmon@32473 kind=\"capability\"] {"
            ),
            "{m}"
        );
    }

    #[test]
    fn addresses_parse_or_say_what_is_wrong() {
        assert_eq!(
            "tcp://logs.example:6514".parse::<Address>(),
            Ok(Address::Tcp("logs.example:6514".into()))
        );
        assert_eq!(
            "tls://[::1]:6514".parse::<Address>(),
            Ok(Address::Tls("[::1]:6514".into()))
        );
        assert_eq!(
            "unix:///dev/log".parse::<Address>(),
            Ok(Address::Unix("/dev/log".into()))
        );
        assert!(
            "udp://nohost"
                .parse::<Address>()
                .unwrap_err()
                .contains("host:port")
        );
        assert!(
            "unix://dev/log"
                .parse::<Address>()
                .unwrap_err()
                .contains("absolute")
        );
        assert!("syslog.example:514".parse::<Address>().is_err());
    }

    #[test]
    fn timestamps_keep_six_fractional_digits() {
        assert_eq!(
            timestamp(Some("2026-11-28T20:00:00.5Z")),
            "2026-11-28T20:00:00.5Z"
        );
        assert_eq!(
            timestamp(Some("2026-11-28T20:00:00.123456789Z")),
            "2026-11-28T20:00:00.123456Z"
        );
        assert_eq!(
            timestamp(Some("2026-11-28T20:00:01Z")),
            "2026-11-28T20:00:01Z"
        );
        assert_eq!(timestamp(None), "-");
    }
}
