//! The daemon's configuration: one YAML file, every key overridable by a flag of the same
//! name (`dedup_window_secs` <-> `--dedup-window-secs`).

use std::{
    fmt,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

pub use crate::{
    catalog::operations::Coverage,
    rules::{Action, Severity},
};

/// The body of each webhook POST.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The event as privmon writes it (docs/events.md).
    #[default]
    Privmon,
    /// falcosidekick's input (`output`, `priority`, `rule`, `time`, `output_fields`,
    /// `source`, `tags`, `hostname`), so alerts reach the destinations falcosidekick serves.
    Falcosidekick,
    /// A CloudEvents 1.0 event in structured mode (`application/cloudevents+json`): the
    /// privmon event is its `data` (Knative, Argo Events and event brokers take it as is).
    Cloudevents,
}

/// Where messages go: `udp://host:port`, `tcp://host:port`, `tls://host:port` or
/// `unix:///path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogAddress {
    Udp(String),
    Tcp(String),
    Tls(String),
    Unix(PathBuf),
}

impl std::str::FromStr for SyslogAddress {
    type Err = String;

    fn from_str(s: &str) -> Result<SyslogAddress, String> {
        let host_port = |rest: &str| -> Result<String, String> {
            match rest.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(rest.to_string())
                }
                _ => Err(format!("`{s}`: expected host:port after the scheme")),
            }
        };
        if let Some(rest) = s.strip_prefix("udp://") {
            Ok(SyslogAddress::Udp(host_port(rest)?))
        } else if let Some(rest) = s.strip_prefix("tcp://") {
            Ok(SyslogAddress::Tcp(host_port(rest)?))
        } else if let Some(rest) = s.strip_prefix("tls://") {
            Ok(SyslogAddress::Tls(host_port(rest)?))
        } else if let Some(path) = s.strip_prefix("unix://") {
            if path.starts_with('/') {
                Ok(SyslogAddress::Unix(PathBuf::from(path)))
            } else {
                Err(format!(
                    "`{s}`: a unix socket needs an absolute path (unix:///dev/log)"
                ))
            }
        } else {
            Err(format!(
                "`{s}` is not udp://host:port, tcp://host:port, tls://host:port or unix:///path"
            ))
        }
    }
}

/// Syslog facilities by name (RFC 5424 table 1).
pub const SYSLOG_FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Which capability-check hook to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum HookChoice {
    /// The first of tp_btf, tracepoint, fexit, kprobe that loads and attaches.
    #[default]
    Auto,
    TpBtf,
    Tracepoint,
    Fexit,
    Kprobe,
}

/// Enforcement's switch (docs/enforcement.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementSwitch {
    /// Nothing is armed in the kernel (the programs carry no enforcement code).
    #[default]
    Off,
    /// Every action is written as `would_kill` or `would_deny`; none is taken.
    DryRun,
    /// Rules' actions and protect mode act.
    On,
}

/// How enforcement treats a workload ([`ModeEntry`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum WorkloadMode {
    /// Its baseline is learned; a use outside it raises no alert.
    Learn,
    /// A use outside its baseline raises `capability_outside_baseline` (no action).
    #[default]
    Monitor,
    /// As protect, but what would be done is written (`would_kill`, `would_deny`), not done.
    DryRun,
    /// Once its baseline is learned, a capability outside it (and `protect_allow`) is
    /// killed or denied (`protect_action`).
    Protect,
    /// Not watched: once its identity is final (at the latest at its `container_start`),
    /// the kernel drops its records as it does a host cgroup's, and nothing of it is
    /// written, judged, learned or armed (another node's replica in a test, a namespace
    /// another tool owns).
    Ignore,
}

impl WorkloadMode {
    pub fn name(self) -> &'static str {
        match self {
            WorkloadMode::Learn => "learn",
            WorkloadMode::Monitor => "monitor",
            WorkloadMode::DryRun => "dry_run",
            WorkloadMode::Protect => "protect",
            WorkloadMode::Ignore => "ignore",
        }
    }
}

/// One entry of `workload_modes`: a mode and the workloads it applies to (globs; every
/// key given must match; no key: every container).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModeEntry {
    pub mode: WorkloadMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The container's name (Kubernetes' container name in a pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `KEY=GLOB` on a pod label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

impl ModeEntry {
    /// The entry's (key, glob) pairs; `label` as `label:KEY`.
    pub fn selectors(&self) -> Vec<(String, &str)> {
        let mut out = Vec::new();
        for (key, v) in [
            ("namespace", &self.namespace),
            ("pod", &self.pod),
            ("container", &self.container),
            ("image", &self.image),
        ] {
            if let Some(v) = v {
                out.push((key.to_string(), v.as_str()));
            }
        }
        if let Some((k, v)) = self.label.as_deref().and_then(|l| l.split_once('=')) {
            out.push((format!("label:{k}"), v));
        }
        out
    }

    fn check(&self) -> Result<(), String> {
        if let Some(l) = &self.label
            && l.split_once('=').is_none_or(|(k, _)| k.trim().is_empty())
        {
            return Err(format!("label `{l}` is not KEY=GLOB"));
        }
        for (key, glob) in self.selectors() {
            globset::Glob::new(glob).map_err(|e| format!("{key}: invalid glob `{glob}`: {e}"))?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ModeEntry {
    type Err = String;

    /// `MODE:KEY=GLOB` (`protect:namespace=payments`, `dry-run:label=app=web`), or a bare
    /// `MODE` for every container.
    fn from_str(s: &str) -> Result<ModeEntry, String> {
        let (mode, selector) = match s.split_once(':') {
            Some((m, sel)) => (m, Some(sel)),
            None => (s, None),
        };
        let mode =
            <WorkloadMode as clap::ValueEnum>::from_str(mode.trim(), true).map_err(|_| {
                format!("`{s}`: unknown mode `{mode}` (learn, monitor, dry-run, protect, ignore)")
            })?;
        let mut e = ModeEntry {
            mode,
            ..ModeEntry::default()
        };
        if let Some(sel) = selector {
            let (key, glob) = sel
                .split_once('=')
                .ok_or_else(|| format!("`{s}` is not MODE:KEY=GLOB"))?;
            let glob = Some(glob.to_string());
            match key.trim() {
                "namespace" => e.namespace = glob,
                "pod" => e.pod = glob,
                "container" => e.container = glob,
                "image" => e.image = glob,
                "label" => e.label = glob,
                other => {
                    return Err(format!(
                        "`{s}`: unknown key `{other}` (namespace, pod, container, image, label)"
                    ));
                }
            }
        }
        e.check()?;
        Ok(e)
    }
}

/// Which processes are watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum Watch {
    /// Processes in container cgroups (a new cgroup counts as one until classified).
    #[default]
    Containers,
    /// Every process, host ones included.
    All,
}

/// Declares every configuration key once: its type, default, doc, flag and bounds.
///
/// From one entry it makes the [`Config`] field (read from YAML by serde), its default,
/// the `--flag` of the same name that overrides it (clap, help from the same doc), the
/// override itself, the key's own check and its entry in [`KEYS`]. An entry reads
/// `name: Type = default; flag: FlagType [clap args] (=> setter);` and optionally
/// `check: |value| ...;` returning `Err(reason)`. Without a setter the flag's value
/// replaces the key's (`Some(value)` for an optional key).
macro_rules! config_keys {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident: $ty:ty = $default:expr;
        flag: $flag:ty $([$($arg:tt)*])? $(=> $set:expr)?;
        $(check: $check:expr;)?
    )+) => {
        /// Daemon configuration. Unknown keys are refused, so a typo never silently does
        /// nothing. Each key is declared once, in `config_keys!`.
        #[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct Config {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl Default for Config {
            fn default() -> Self {
                Self { $( $name: $default, )+ }
            }
        }

        /// One flag per configuration key, `--dedup-window-secs` for `dedup_window_secs`;
        /// a flag given replaces the key's value from the file.
        #[derive(Clone, Debug, Default, clap::Args)]
        pub struct KeyFlags {
            $(
                $(#[doc = $doc])+
                #[arg(long $(, $($arg)*)?)]
                pub $name: Option<$flag>,
            )+
        }

        /// Every configuration key with its doc, in the order of the declaration.
        pub const KEYS: &[Key] = &[$(
            Key { name: stringify!($name), doc: concat!($($doc, "\n"),+) },
        )+];

        impl Config {
            /// Applies the flags that were given; `Err((key, reason))` for a refused one.
            fn apply_key_flags(&mut self, flags: &KeyFlags) -> Result<(), (&'static str, String)> {
                $(
                    if let Some(value) = &flags.$name {
                        set_key!(self.$name, $ty, $flag, value.clone() $(, $set)?)
                            .map_err(|reason| (stringify!($name), reason))?;
                    }
                )+
                Ok(())
            }

            /// Each key's own bounds; `Err((key, reason))` for the first out of them.
            fn check_keys(&self) -> Result<(), (&'static str, String)> {
                $($(
                    let check: fn(&$ty) -> Result<(), String> = $check;
                    check(&self.$name).map_err(|reason| (stringify!($name), reason))?;
                )?)+
                Ok(())
            }
        }
    };
}

/// The override of one key by its flag: replace (`into`: `Some` for an optional key), or
/// the entry's own setter.
macro_rules! set_key {
    ($field:expr, $ty:ty, $flag:ty, $value:expr) => {{
        $field = $value.into();
        Ok::<(), String>(())
    }};
    ($field:expr, $ty:ty, $flag:ty, $value:expr, $set:expr) => {{
        let set: fn(&mut $ty, $flag) -> Result<(), String> = $set;
        set(&mut $field, $value)
    }};
}

/// A configuration key as `privmon config` and the docs show it.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The YAML key; the flag is `--` and the key with `-` for `_`.
    pub name: &'static str,
    /// Its meaning (the doc comment of its declaration).
    pub doc: &'static str,
}

/// `Err` with `reason` unless `ok`.
fn bound(ok: bool, reason: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(reason.to_string()) }
}

/// Kinds a sink may select, checked against [`KINDS`].
fn known_kinds(kinds: &[String]) -> Result<(), String> {
    match kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown kind `{k}` (one of {})", KINDS.join(", "))),
        None => Ok(()),
    }
}

config_keys! {
    /// Capability-check hook: `auto` takes the first of tp_btf, tracepoint, fexit, kprobe
    /// that loads and attaches.
    hook: HookChoice = HookChoice::Auto;
    flag: HookChoice [value_enum];

    /// Which processes are watched: `containers` (a new cgroup counts as one until
    /// classified) or `all` (host processes too).
    watch: Watch = Watch::Containers;
    flag: Watch [value_enum];

    /// Seconds before a repeated (cgroup, capability, verdict, syscall, comm) is reported
    /// again; 0 reports every check. Counters are exact either way.
    dedup_window_secs: u64 = 60;
    flag: u64 [value_name = "SECS"];
    check: |v| bound(*v <= 86_400 * 365, "must be at most one year");

    /// Report every denied check, bypassing the first-seen filter.
    always_emit_denied: bool = true;
    flag: bool [value_name = "BOOL"];

    /// Write the container runtime's set-up of a new container as events too (runc's
    /// mounts, device nodes, pivot_root, ... before the entrypoint runs).
    ///
    /// By default they are counted in `container_start.runtime_setup`; what a runtime does
    /// not normally do there is written either way. For debugging a runtime.
    runtime_setup_events: bool = false;
    flag: bool [value_name = "BOOL"];

    /// Size of the kernel-to-daemon ring buffer in bytes: a power of two, at least 4096.
    ///
    /// The default (16 MiB, about 100,000 records) holds a third of a second of a
    /// 300,000 checks/s burst while the daemon catches up.
    ring_buffer_bytes: u32 = 16 << 20;
    flag: u32 [value_name = "BYTES"];
    check: |v| match v.is_power_of_two() && *v >= 4096 {
        true => Ok(()),
        false => Err(format!("{v} is not a power of two of at least 4096")),
    };

    /// Records queued between the ring-buffer reader and the output thread.
    ///
    /// When the queue is full the reader leaves records in the ring buffer until there is
    /// room; what does not fit there is dropped by the kernel and counted.
    event_queue_capacity: usize = 8192;
    flag: usize [value_name = "N"];
    check: |v| bound(*v >= 1, "must be at least 1");

    /// Node name put in every event (default: `$NODE_NAME`, else the host name).
    node_name: Option<String> = None;
    flag: String [value_name = "NAME", env = "NODE_NAME"];
    check: |v| bound(v.as_ref().is_none_or(|n| !n.trim().is_empty()), "must not be empty");

    /// Seconds between statistics log lines (drops, counts); 0 turns them off.
    stats_interval_secs: u64 = 60;
    flag: u64 [value_name = "SECS"];

    /// Host files and directories whose writes by containers are reported, through
    /// fanotify (a directory: the files in it, not deeper). A container writes them
    /// through a bind mount of the host's paths (`-v /:/host`, `-v /etc:/x`); a write
    /// makes no capability check, so no probe sees it. Needs CAP_SYS_ADMIN (the DaemonSet
    /// does not grant it); empty (the default) watches nothing. Where BPF trampolines load,
    /// `fentry/security_file_open` watches them instead (opens for writing), besides its
    /// built-in directories (`host_files_fentry`). E.g. `/etc` (passwd, shadow, sudoers,
    /// crontab, ld.so.preload), `/etc/cron.d`, `/etc/sudoers.d`, `/root/.ssh`. The flag is
    /// repeatable.
    host_files: Vec<PathBuf> = Vec::new();
    flag: Vec<PathBuf> [long = "host-file", value_name = "PATH"];
    check: |v| bound(
        v.iter().all(|p| p.is_absolute()),
        "entries must be absolute paths",
    );

    /// Watch `host_files` and the built-in host directories (`/etc`, `/etc/cron.d`,
    /// `/etc/sudoers.d`, `/etc/systemd/system`, `/root/.ssh`) with
    /// `fentry/security_file_open` where BPF trampolines load (docs/events.md). It runs on
    /// every open on the node and leaves at once on those that do not write; `false` leaves
    /// it unloaded (fanotify then serves `host_files`).
    host_files_fentry: bool = true;
    flag: bool [value_name = "BOOL"];

    /// Image reference prefixes that count as trusted (e.g. `registry.example.com/`);
    /// empty leaves `posture.image_trusted` null. The flag is repeatable.
    trusted_registries: Vec<String> = Vec::new();
    flag: Vec<String> [long = "trusted-registry", value_name = "PREFIX"];
    check: |v| bound(
        v.iter().all(|r| !r.trim().is_empty()),
        "entries must be non-empty image reference prefixes",
    );

    /// Address of `/metrics`, `/healthz`, `/readyz` and the API (port 0: any free port,
    /// logged); a taken port fails the start.
    listen: std::net::SocketAddr = DEFAULT_LISTEN.parse().expect("valid default address");
    flag: std::net::SocketAddr [value_name = "ADDR:PORT"];

    /// Whether per-container metric series carry `pod` and `container` labels; without
    /// them, series are per namespace.
    metrics_pod_labels: bool = true;
    flag: bool [value_name = "BOOL"];

    /// Seconds the series of a removed container are kept, so its last counts are scraped.
    metrics_grace_secs: u64 = 300;
    flag: u64 [value_name = "SECS"];
    check: |v| bound(*v <= 86_400, "must be at most one day");

    /// Rule files that extend the built-in rules, in order (docs/rules.md); reloaded on
    /// SIGHUP and when they change. The flag is repeatable.
    rules_files: Vec<PathBuf> = Vec::new();
    flag: Vec<PathBuf> [long = "rules", value_name = "FILE"];

    /// Use the built-in rules (false: only `rules_files` apply).
    default_rules: bool = true;
    flag: bool [value_name = "BOOL"];

    /// Write events to stdout.
    stdout: bool = true;
    flag: bool [value_name = "BOOL"];

    /// Kinds written to stdout, comma-separated (empty: all).
    stdout_kinds: Vec<String> = Vec::new();
    flag: Vec<String> [value_name = "KINDS", value_delimiter = ','];
    check: |v| known_kinds(v);

    /// Alerts below this severity are not written to stdout.
    stdout_min_severity: Option<Severity> = None;
    flag: Severity [value_name = "SEVERITY"];

    /// Also write JSON lines to this file, rotated by size.
    file_path: Option<PathBuf> = None;
    flag: PathBuf [value_name = "PATH"];

    /// Size in bytes at which the file is rotated.
    file_max_bytes: u64 = 100 << 20;
    flag: u64 [value_name = "BYTES"];
    check: |v| bound(*v >= 4096, "must be at least 4096");

    /// Rotated files kept (`events.json.1` ... `.N`).
    file_keep: u32 = 5;
    flag: u32 [value_name = "N"];

    /// Kinds written to the file, comma-separated (empty: all).
    file_kinds: Vec<String> = Vec::new();
    flag: Vec<String> [value_name = "KINDS", value_delimiter = ','];
    check: |v| known_kinds(v);

    /// Alerts below this severity are not written to the file.
    file_min_severity: Option<Severity> = None;
    flag: Severity [value_name = "SEVERITY"];

    /// POST events to this URL.
    webhook_url: Option<String> = None;
    flag: String [value_name = "URL"];
    check: |v| match v {
        // The daemon has no TLS client: https:// would fail at every delivery.
        Some(url) if !url.starts_with("http://") => Err(format!(
            "`{url}` is not an http:// URL (TLS: falcosidekick or a proxy on the node)"
        )),
        _ => Ok(()),
    };

    /// Webhook payload: `privmon` (the event as written), `falcosidekick` or `cloudevents`.
    webhook_format: WebhookFormat = WebhookFormat::Privmon;
    flag: WebhookFormat [value_enum];

    /// Kinds sent to the webhook, comma-separated.
    webhook_kinds: Vec<String> = vec!["alert".to_string()];
    flag: Vec<String> [value_name = "KINDS", value_delimiter = ','];
    check: |v| known_kinds(v);

    /// Alerts below this severity are not sent to the webhook.
    webhook_min_severity: Option<Severity> = None;
    flag: Severity [value_name = "SEVERITY"];

    /// Events waiting for the webhook; beyond it they are dropped and counted.
    webhook_queue_capacity: usize = 1000;
    flag: usize [value_name = "N"];
    check: |v| bound(*v >= 1, "must be at least 1");

    /// Timeout of one webhook request, in seconds.
    webhook_timeout_secs: u64 = 5;
    flag: u64 [value_name = "SECS"];

    /// Attempts per event, the first included.
    webhook_attempts: u32 = 4;
    flag: u32 [value_name = "N"];

    /// Wait before the first retry, doubled for each next one, in milliseconds.
    webhook_backoff_ms: u64 = 500;
    flag: u64 [value_name = "MS"];

    /// Export events as OpenTelemetry logs to this OTLP/HTTP logs endpoint (JSON encoding),
    /// whole: `http://otel-collector:4318/v1/logs`.
    otlp_url: Option<String> = None;
    flag: String [value_name = "URL", env = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"];
    check: |v| match v {
        Some(url) if !url.starts_with("http://") => Err(format!(
            "`{url}` is not an http:// URL (TLS: a collector on the node or a sidecar)"
        )),
        _ => Ok(()),
    };

    /// Headers sent with each OTLP request, `key=value` (an `Authorization` or a tenant id).
    otlp_headers: Vec<String> = Vec::new();
    flag: Vec<String> [value_name = "KEY=VALUE", value_delimiter = ','];
    check: |v| match v.iter().find(|h| h.split_once('=').is_none_or(|(k, _)| k.trim().is_empty())) {
        Some(h) => Err(format!("`{h}` is not key=value")),
        None => Ok(()),
    };

    /// Kinds exported over OTLP, comma-separated (empty: all).
    otlp_kinds: Vec<String> = vec!["alert".to_string()];
    flag: Vec<String> [value_name = "KINDS", value_delimiter = ','];
    check: |v| known_kinds(v);

    /// Alerts below this severity are not exported over OTLP.
    otlp_min_severity: Option<Severity> = None;
    flag: Severity [value_name = "SEVERITY"];

    /// Events waiting for the OTLP exporter; beyond it they are dropped and counted.
    otlp_queue_capacity: usize = 1000;
    flag: usize [value_name = "N"];
    check: |v| bound(*v >= 1, "must be at least 1");

    /// Timeout of one OTLP request, in seconds.
    otlp_timeout_secs: u64 = 10;
    flag: u64 [value_name = "SECS"];

    /// Send events as RFC 5424 syslog messages: `udp://host:port`, `tcp://host:port`
    /// (octet-counted framing), `tls://host:port` (the same over TLS) or `unix:///dev/log`.
    syslog_address: Option<String> = None;
    flag: String [value_name = "ADDRESS"];
    check: |v| match v {
        Some(a) => a.parse::<SyslogAddress>().map(drop),
        None => Ok(()),
    };

    /// For a `tls://` syslog address: the CAs (PEM) that may sign the receiver's certificate.
    /// Without it, the system's bundle (`/etc/ssl/certs/ca-certificates.crt`).
    syslog_tls_ca: Option<PathBuf> = None;
    flag: PathBuf [value_name = "PATH"];

    /// Syslog facility of the messages (`user`, `daemon`, `auth`, `authpriv`, `local0` ...).
    syslog_facility: String = "local0".to_string();
    flag: String [value_name = "FACILITY"];
    check: |v| match SYSLOG_FACILITIES.contains(&v.as_str()) {
        true => Ok(()),
        false => Err(format!(
            "`{v}` is no syslog facility ({})",
            SYSLOG_FACILITIES.join(", ")
        )),
    };

    /// Kinds sent to syslog, comma-separated (empty: all).
    syslog_kinds: Vec<String> = vec!["alert".to_string()];
    flag: Vec<String> [value_name = "KINDS", value_delimiter = ','];
    check: |v| known_kinds(v);

    /// Alerts below this severity are not sent to syslog.
    syslog_min_severity: Option<Severity> = None;
    flag: Severity [value_name = "SEVERITY"];

    /// Messages longer than this are cut (and counted): RFC 5426 receivers must take 480
    /// bytes and should take 2048.
    syslog_max_bytes: usize = 2048;
    flag: usize [value_name = "BYTES"];
    check: |v| bound(*v >= 480, "must be at least 480 (RFC 5426)");

    /// Events waiting for syslog; beyond it they are dropped and counted.
    syslog_queue_capacity: usize = 1000;
    flag: usize [value_name = "N"];
    check: |v| bound(*v >= 1, "must be at least 1");

    /// Recent events kept for clients of the live stream (`/events`, `privmon tail`).
    stream_history: usize = 1000;
    flag: usize [value_name = "N"];

    /// Bearer token that `/events` and `/advice` require.
    ///
    /// Without one they are served only when `listen` is a loopback address.
    api_token: Option<String> = None;
    flag: String [value_name = "TOKEN", env = "PRIVMON_API_TOKEN", hide_env_values = true];
    check: |v| bound(
        v.as_ref().is_none_or(|t| t.trim().len() >= 16),
        "must be at least 16 characters",
    );

    /// File holding the bearer token (e.g. a mounted Kubernetes secret).
    api_token_file: Option<PathBuf> = None;
    flag: PathBuf [value_name = "PATH"];

    /// Where the least-privilege advisor keeps what it learned (`advisor.json`).
    ///
    /// YAML `state_dir: null` or the flag `--no-state` keep it in memory only.
    state_dir: Option<PathBuf> = Some(PathBuf::from(DEFAULT_STATE_DIR));
    flag: PathBuf [value_name = "PATH", conflicts_with = "no_state"];

    /// Seconds a workload is watched before its capability baseline is fixed; later uses
    /// of other capabilities raise `capability_outside_baseline`.
    baseline_learning_secs: u64 = 86_400;
    flag: u64 [value_name = "SECS"];

    /// How each sensitive-operation group is covered, GROUP=MODE.
    ///
    /// Groups: mounts, namespaces, kernel, processes, files, misc (the flag also takes
    /// `all`). Modes: `auto` (capability checks and other zero-tax sources; what they miss
    /// is reported), `on` (plus syscall tracepoints, which slow every syscall of the node)
    /// or `off`. The flag is repeatable and comma-separated: `--operations all=on,files=off`.
    operations: OperationGroups = OperationGroups::default();
    flag: Vec<String> [value_name = "GROUP=MODE", value_delimiter = ','] => |groups, settings| {
        settings.iter().try_for_each(|s| groups.apply(s))
    };

    /// Enforcement (docs/enforcement.md): `off` (the default: nothing is armed in the
    /// kernel), `dry-run` (every action is written as `would_kill` or `would_deny`, none is
    /// taken) or `on`. Rules' `action`s and the `dry-run` and `protect` workload modes act
    /// only when it is not `off`; `POST /enforcement` turns it off (or back) at run time.
    enforcement: EnforcementSwitch = EnforcementSwitch::Off;
    flag: EnforcementSwitch [value_enum];

    /// Enforcement modes of workloads, the first matching entry wins (none: `monitor`).
    ///
    /// `learn` (baseline only), `monitor` (alert on uses outside the baseline), `dry-run`
    /// and `protect` (once the baseline is learned, kill or deny every capability outside
    /// it and `protect_allow`), `ignore` (not watched at all, dropped in the kernel from
    /// its start on; whatever `enforcement` says). YAML: a list of `{mode, namespace, pod,
    /// container, image, label}` (globs; `label: KEY=GLOB`). The flag, repeatable: `MODE:KEY=GLOB`
    /// (`protect:namespace=payments`) or `MODE` alone for every container.
    workload_modes: Vec<ModeEntry> = Vec::new();
    flag: Vec<String> [long = "workload-mode", value_name = "MODE:KEY=GLOB"] => |modes, entries| {
        for e in entries {
            modes.push(e.parse()?);
        }
        Ok(())
    };
    check: |v| v.iter().try_for_each(ModeEntry::check);

    /// What protect mode does to a capability outside a workload's baseline: `kill`
    /// (SIGKILL at the check, every kernel) or `deny` (EPERM: needs BPF LSM).
    protect_action: Action = Action::Kill;
    flag: Action [value_enum];

    /// Capabilities protect mode never acts on, outside the baseline or not (`CAP_CHOWN`).
    /// The flag is repeatable.
    protect_allow: Vec<String> = Vec::new();
    flag: Vec<String> [long = "protect-allow", value_name = "CAP", value_delimiter = ','];
    check: |v| match v.iter().find(|c| crate::catalog::capabilities::Capability::from_name(c).is_err()) {
        Some(c) => Err(format!("unknown capability `{c}`")),
        None => Ok(()),
    };

    /// Kills of one workload within a minute after which enforcement stops acting on it
    /// (a crash-looping container), until `POST /enforcement` resumes it; 0: no limit.
    enforcement_max_kills_per_minute: u32 = 10;
    flag: u32 [value_name = "N"];

    /// Ask the container runtime's CRI socket (containerd, CRI-O) for what the OCI state
    /// lacks: pod labels, image digests.
    cri: bool = true;
    flag: bool [value_name = "BOOL"];

    /// The CRI socket (default: the first of /run/containerd/containerd.sock,
    /// /run/crio/crio.sock, /run/k3s/containerd/containerd.sock that exists).
    cri_socket: Option<PathBuf> = None;
    flag: PathBuf [value_name = "PATH"];

    /// Timeout of one CRI call, in milliseconds.
    cri_timeout_ms: u64 = 1000;
    flag: u64 [value_name = "MS"];
    check: |v| bound((1..=60_000).contains(v), "must be between 1 and 60000");
}

/// Flags of `privmon run` and `privmon config`: one per key, and `--no-state`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConfigFlags {
    #[command(flatten)]
    pub keys: KeyFlags,
    /// Keep the advisor's state in memory only (YAML: `state_dir: null`).
    #[arg(long)]
    pub no_state: bool,
}

/// Coverage of each sensitive-operation group (docs/events.md lists what each holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OperationGroups {
    pub mounts: Coverage,
    pub namespaces: Coverage,
    pub kernel: Coverage,
    pub processes: Coverage,
    pub files: Coverage,
    pub misc: Coverage,
}

impl OperationGroups {
    /// The mode of `group` (`auto` for a name that is no group).
    pub fn mode(&self, group: &str) -> Coverage {
        match group {
            "mounts" => self.mounts,
            "namespaces" => self.namespaces,
            "kernel" => self.kernel,
            "processes" => self.processes,
            "files" => self.files,
            "misc" => self.misc,
            _ => Coverage::Auto,
        }
    }

    fn set(&mut self, group: &str, mode: Coverage) -> bool {
        let slot = match group {
            "mounts" => &mut self.mounts,
            "namespaces" => &mut self.namespaces,
            "kernel" => &mut self.kernel,
            "processes" => &mut self.processes,
            "files" => &mut self.files,
            "misc" => &mut self.misc,
            _ => return false,
        };
        *slot = mode;
        true
    }

    /// Applies `GROUP=MODE` (GROUP may be `all`).
    pub fn apply(&mut self, setting: &str) -> Result<(), String> {
        let (group, mode) = setting
            .split_once('=')
            .ok_or_else(|| format!("`{setting}` is not GROUP=MODE"))?;
        let mode = match mode.trim() {
            "auto" => Coverage::Auto,
            "on" => Coverage::On,
            "off" => Coverage::Off,
            other => return Err(format!("unknown mode `{other}` (auto, on, off)")),
        };
        let group = group.trim();
        if group == "all" {
            for g in crate::catalog::operations::GROUPS {
                self.set(g, mode);
            }
            return Ok(());
        }
        if !self.set(group, mode) {
            return Err(format!(
                "unknown group `{group}` (all, {})",
                crate::catalog::operations::GROUPS.join(", ")
            ));
        }
        Ok(())
    }
}

/// The event kinds sinks can select.
pub const KINDS: &[&str] = &[
    "capability",
    "syscall",
    "namespace",
    "container_start",
    "container_stop",
    "alert",
    "credentials",
];

/// Where the HTTP endpoints listen by default: loopback, on a port of privmon's own.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9798";

/// Where the advisor's state lives by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/privmon";

/// A configuration that cannot be used, with where and why.
#[derive(Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub source_name: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads and validates a YAML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source_name: path.display().to_string(),
            line: None,
            key: None,
            message: format!("cannot read: {e}"),
        })?;
        Self::from_yaml(&path.display().to_string(), &text)
    }

    /// Parses and validates YAML text; `source_name` names it in errors.
    pub fn from_yaml(source_name: &str, text: &str) -> Result<Self, ConfigError> {
        // An empty file (or one with only comments) means all defaults.
        let config: Config = if text.lines().all(|l| {
            let l = l.trim();
            l.is_empty() || l.starts_with('#') || l == "---"
        }) {
            Config::default()
        } else {
            serde_yaml_ng::from_str(text).map_err(|e| {
                let line = e.location().map(|l| l.line());
                let message = strip_location(&e.to_string());
                let key =
                    key_of_message(&message).or_else(|| line.and_then(|l| key_on_line(text, l)));
                ConfigError {
                    source_name: source_name.to_string(),
                    line,
                    key,
                    message,
                }
            })?
        };
        config.validate().map_err(|(key, message)| ConfigError {
            source_name: source_name.to_string(),
            line: line_of_key(text, key),
            key: Some(key.to_string()),
            message,
        })?;
        Ok(config)
    }

    /// Applies flag overrides, then validates again (flags are checked like file keys).
    pub fn with_flags(mut self, flags: &ConfigFlags) -> Result<Self, ConfigError> {
        let refused = |(key, message): (&str, String)| ConfigError {
            source_name: "command line".to_string(),
            line: None,
            key: Some(format!("--{}", key.replace('_', "-"))),
            message,
        };
        self.apply_key_flags(&flags.keys).map_err(refused)?;
        if flags.no_state {
            self.state_dir = None;
        }
        self.validate().map_err(refused)?;
        Ok(self)
    }

    /// Each key's bounds, then what involves several keys.
    fn validate(&self) -> Result<(), (&'static str, String)> {
        self.check_keys()?;
        if self.api_token.is_some() && self.api_token_file.is_some() {
            return Err((
                "api_token",
                "set api_token or api_token_file, not both".to_string(),
            ));
        }
        Ok(())
    }

    /// The configuration as YAML that [`Config::from_yaml`] reads back, every key with its
    /// meaning as a comment above it (`privmon config`).
    pub fn to_documented_yaml(&self) -> String {
        let values = serde_json::to_value(self).expect("a Config serializes");
        let mut out = String::new();
        for key in KEYS {
            for line in key.doc.lines() {
                out.push_str(format!("#{line}").trim_end());
                out.push('\n');
            }
            let one = serde_json::json!({ key.name: values[key.name] });
            out.push_str(&serde_yaml_ng::to_string(&one).expect("a JSON value is YAML"));
            out.push('\n');
        }
        out
    }
}

/// Adds `[default: ...]` to the help of each key's flag in `command` (`privmon run
/// --help`), from [`Config::default`]; keys whose default is null or empty show none.
pub fn with_defaults_in_help(command: clap::Command) -> clap::Command {
    let defaults = serde_json::to_value(Config::default()).expect("a Config serializes");
    KEYS.iter().fold(command, |command, key| {
        let shown = match &defaults[key.name] {
            serde_json::Value::Null => return command,
            serde_json::Value::Array(a) if a.is_empty() => return command,
            serde_json::Value::Array(a) => a
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(","),
            serde_json::Value::String(s) => s.clone(),
            // The operation groups: `all=MODE` when they agree.
            serde_json::Value::Object(groups) => {
                let modes: Vec<_> = groups.values().filter_map(|v| v.as_str()).collect();
                match modes.split_first() {
                    Some((first, rest)) if rest.iter().all(|m| m == first) => {
                        format!("all={first}")
                    }
                    _ => groups
                        .iter()
                        .map(|(g, v)| format!("{g}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(","),
                }
            }
            other => other.to_string(),
        };
        command.mut_arg(key.name, |arg| {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let long = arg.get_long_help().map(ToString::to_string);
            let arg = arg.help(format!("{help} [default: {shown}]"));
            match long {
                Some(long) => arg.long_help(format!("{long}\n\n[default: {shown}]")),
                None => arg,
            }
        })
    })
}

/// serde_yaml appends " at line L column C"; the error carries the line separately.
fn strip_location(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// The key named in a serde message such as "unknown field `hok`, expected ..." or
/// "hook: unknown variant ...".
fn key_of_message(msg: &str) -> Option<String> {
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        return rest.split('`').next().map(str::to_string);
    }
    let (head, _) = msg.split_once(": ")?;
    (!head.contains(' ')).then(|| head.to_string())
}

/// The top-level key defined on 1-based `line`, if any.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = l.split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with('#')).then(|| key.to_string())
}

/// 1-based line where `key:` is defined at the top level.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_means_defaults() {
        assert_eq!(Config::from_yaml("c.yaml", "").unwrap(), Config::default());
        assert_eq!(
            Config::from_yaml("c.yaml", "# nothing\n---\n").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn every_key_parses() {
        let c = Config::from_yaml(
            "c.yaml",
            "hook: tp_btf\nwatch: all\ndedup_window_secs: 5\nalways_emit_denied: false\n\
             ring_buffer_bytes: 65536\nevent_queue_capacity: 10\nnode_name: n1\n\
             stats_interval_secs: 0\ntrusted_registries: [registry.example/]\n\
             listen: 0.0.0.0:9999\nmetrics_pod_labels: false\nmetrics_grace_secs: 10\n",
        )
        .unwrap();
        assert_eq!(c.hook, HookChoice::TpBtf);
        assert_eq!(c.watch, Watch::All);
        assert_eq!(c.dedup_window_secs, 5);
        assert!(!c.always_emit_denied);
        assert_eq!(c.ring_buffer_bytes, 65536);
        assert_eq!(c.event_queue_capacity, 10);
        assert_eq!(c.node_name.as_deref(), Some("n1"));
        assert_eq!(c.stats_interval_secs, 0);
        assert_eq!(c.trusted_registries, ["registry.example/"]);
        assert_eq!(c.listen.to_string(), "0.0.0.0:9999");
        assert!(!c.metrics_pod_labels);
        assert_eq!(c.metrics_grace_secs, 10);
    }

    #[test]
    fn operation_groups_parse_from_yaml_and_flags() {
        let c = Config::from_yaml(
            "c.yaml",
            "operations:\n  files: on\n  mounts: off\n  namespaces: auto\n",
        )
        .unwrap();
        assert_eq!(c.operations.mode("files"), Coverage::On);
        assert_eq!(c.operations.mode("mounts"), Coverage::Off);
        assert_eq!(c.operations.mode("kernel"), Coverage::Auto);
        let err = Config::from_yaml("c.yaml", "operations:\n  file: on\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err}");
        assert!(err.to_string().contains("unknown field `file`"), "{err}");
        let err = Config::from_yaml("c.yaml", "operations:\n  files: yes\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");

        let flags = |v: &[&str]| ConfigFlags {
            keys: KeyFlags {
                operations: Some(v.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = Config::default()
            .with_flags(&flags(&["all=on", "mounts=off"]))
            .unwrap();
        assert_eq!(c.operations.mode("misc"), Coverage::On);
        assert_eq!(c.operations.mode("mounts"), Coverage::Off);
        let err = Config::default()
            .with_flags(&flags(&["fils=on"]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "command line: key `--operations`: unknown group `fils` (all, mounts, \
             namespaces, kernel, processes, files, misc)"
        );
        let err = Config::default()
            .with_flags(&flags(&["files=maybe"]))
            .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("unknown mode `maybe` (auto, on, off)"),
            "{err}"
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = Config::from_yaml("/etc/privmon.yaml", "hook: auto\nhok: tp_btf\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.key.as_deref(), Some("hok"));
        let text = err.to_string();
        assert!(
            text.starts_with("/etc/privmon.yaml:2: key `hok`: unknown field"),
            "{text}"
        );
    }

    #[test]
    fn wrong_type_names_file_line_and_key() {
        let err =
            Config::from_yaml("p.yaml", "hook: auto\n\ndedup_window_secs: soon\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert_eq!(err.key.as_deref(), Some("dedup_window_secs"), "{err}");
        assert!(err.message.contains("invalid"), "{err}");
    }

    #[test]
    fn unknown_hook_is_refused() {
        let err = Config::from_yaml("p.yaml", "hook: ebpf_magic\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert_eq!(err.key.as_deref(), Some("hook"), "{err}");
        assert!(err.message.contains("ebpf_magic"), "{err}");
    }

    #[test]
    fn invalid_values_name_their_line() {
        let err = Config::from_yaml("p.yaml", "hook: auto\nring_buffer_bytes: 5000\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.key.as_deref(), Some("ring_buffer_bytes"));
        assert!(err.message.contains("power of two"), "{err}");
    }

    #[test]
    fn a_listen_address_without_port_is_refused() {
        let err = Config::from_yaml("p.yaml", "listen: localhost\n").unwrap_err();
        assert_eq!(err.line, Some(1));
        assert_eq!(err.key.as_deref(), Some("listen"), "{err}");
    }

    #[test]
    fn malformed_yaml_is_an_error() {
        let err = Config::from_yaml("p.yaml", "hook: [auto\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
    }

    #[test]
    fn flags_override_the_file_and_are_validated() {
        let c = Config::from_yaml("p.yaml", "dedup_window_secs: 5\n").unwrap();
        let flags = ConfigFlags {
            keys: KeyFlags {
                dedup_window_secs: Some(0),
                hook: Some(HookChoice::Tracepoint),
                ..Default::default()
            },
            ..Default::default()
        };
        let c = c.with_flags(&flags).unwrap();
        assert_eq!(c.dedup_window_secs, 0);
        assert_eq!(c.hook, HookChoice::Tracepoint);
        let bad = ConfigFlags {
            keys: KeyFlags {
                event_queue_capacity: Some(0),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = Config::default().with_flags(&bad).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("--event-queue-capacity"));
    }

    /// `privmon run`'s flags, as the binary declares them.
    #[derive(clap::Parser)]
    struct Run {
        #[command(flatten)]
        flags: ConfigFlags,
    }

    fn parse_flags(args: &[&str]) -> Result<Config, String> {
        use clap::{CommandFactory, FromArgMatches};
        let matches = with_defaults_in_help(Run::command())
            .try_get_matches_from(std::iter::once("run").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        let run = Run::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        Config::default()
            .with_flags(&run.flags)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_key_has_its_flag() {
        let c = parse_flags(&[
            "--hook=tracepoint",
            "--dedup-window-secs=0",
            "--trusted-registry=a/",
            "--trusted-registry=b/",
            "--rules=x.yaml",
            "--file-kinds=alert,syscall",
            "--file-path=/tmp/e.json",
            "--state-dir=/tmp/s",
            "--operations=all=on,files=off",
            "--cri-timeout-ms=20",
        ])
        .unwrap();
        assert_eq!(c.hook, HookChoice::Tracepoint);
        assert_eq!(c.dedup_window_secs, 0);
        assert_eq!(c.trusted_registries, ["a/", "b/"]);
        assert_eq!(c.rules_files, [PathBuf::from("x.yaml")]);
        assert_eq!(c.file_kinds, ["alert", "syscall"]);
        assert_eq!(c.file_path, Some(PathBuf::from("/tmp/e.json")));
        assert_eq!(c.state_dir, Some(PathBuf::from("/tmp/s")));
        assert_eq!(c.operations.mode("mounts"), Coverage::On);
        assert_eq!(c.operations.mode("files"), Coverage::Off);
        assert_eq!(c.cri_timeout_ms, 20);
        assert_eq!(parse_flags(&["--no-state"]).unwrap().state_dir, None);
        assert!(parse_flags(&["--no-state", "--state-dir=/x"]).is_err());
        // A flag is checked like the file's key, with the flag's name.
        let err = parse_flags(&["--ring-buffer-bytes=5000"]).unwrap_err();
        assert!(err.contains("key `--ring-buffer-bytes`"), "{err}");
        let err = parse_flags(&["--stdout-kinds=alert,bogus"]).unwrap_err();
        assert!(err.contains("unknown kind `bogus`"), "{err}");
        // Every key is a flag of the same name.
        use clap::CommandFactory;
        let command = Run::command();
        for key in KEYS {
            assert!(
                command.get_arguments().any(|a| a.get_id() == key.name),
                "no flag for {}",
                key.name
            );
        }
    }

    #[test]
    fn help_shows_each_default_once() {
        use clap::CommandFactory;
        let help = with_defaults_in_help(Run::command())
            .render_long_help()
            .to_string();
        for shown in [
            "[default: 60]",
            "[default: 16777216]",
            "[default: 127.0.0.1:9798]",
            "[default: alert]",
            "[default: /var/lib/privmon]",
            "[default: all=auto]",
        ] {
            assert!(help.contains(shown), "{shown} missing:\n{help}");
        }
        assert!(!help.contains("[default: null]"), "{help}");
    }

    #[test]
    fn documented_yaml_reads_back_as_the_same_config() {
        let defaults = Config::default();
        let text = defaults.to_documented_yaml();
        assert_eq!(Config::from_yaml("printed", &text).unwrap(), defaults);
        assert!(text.contains("# Seconds before a repeated"), "{text}");
        let changed = parse_flags(&[
            "--watch=all",
            "--node-name=n1",
            "--no-state",
            "--operations=files=on",
            "--webhook-url=http://x/",
            "--stdout-min-severity=high",
        ])
        .unwrap();
        let text = changed.to_documented_yaml();
        assert_eq!(
            Config::from_yaml("printed", &text).unwrap(),
            changed,
            "{text}"
        );
        for key in KEYS {
            assert!(
                text.contains(&format!("\n{}:", key.name)),
                "{} missing",
                key.name
            );
        }
    }

    #[test]
    fn readme_lists_every_key() {
        let readme = include_str!("../../README.md");
        for key in KEYS {
            assert!(
                readme.contains(&format!("`{}`", key.name)),
                "README.md's configuration table lacks `{}`",
                key.name
            );
        }
    }
}
