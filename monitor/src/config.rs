//! The daemon's configuration: one YAML file, every key overridable by a flag of the same
//! name (`dedup_window_secs` <-> `--dedup-window-secs`).

use std::{
    fmt,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

pub use crate::{catalog::operations::Coverage, rules::Severity};

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
}

/// Which capability-check hook to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
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

/// Which processes are watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum Watch {
    /// Processes in container cgroups (a new cgroup counts as one until classified).
    #[default]
    Containers,
    /// Every process, host ones included.
    All,
}

/// Daemon configuration. Unknown keys are refused, so a typo never silently does nothing.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Capability-check hook (`auto` tries them in order of preference).
    pub hook: HookChoice,
    /// `containers` (default) or `all` (host processes too).
    pub watch: Watch,
    /// A (cgroup, capability, verdict, syscall, comm) tuple is reported again only after this
    /// many seconds; 0 reports every check. Counters are exact either way.
    pub dedup_window_secs: u64,
    /// Report every denied check, bypassing the first-seen filter.
    pub always_emit_denied: bool,
    /// Size of the kernel-to-daemon ring buffer: a power of two, at least one page. The
    /// default (16 MiB, about 100,000 records) holds a burst of a third of a second at
    /// 300,000 checks/s while the daemon catches up.
    pub ring_buffer_bytes: u32,
    /// Records queued between the ring-buffer reader and the output thread; when it is
    /// full the reader leaves records in the ring buffer until there is room (what does
    /// not fit there is dropped by the kernel and counted).
    pub event_queue_capacity: usize,
    /// Node name put in every event (default: `$NODE_NAME`, else the host name).
    pub node_name: Option<String>,
    /// Seconds between statistics log lines (drops, counts); 0 turns them off.
    pub stats_interval_secs: u64,
    /// Image reference prefixes that count as trusted (e.g. `registry.example.com/`); empty
    /// leaves `posture.image_trusted` null.
    pub trusted_registries: Vec<String>,
    /// Address of `/metrics`, `/healthz` and `/readyz` (port 0: any free port, logged).
    pub listen: std::net::SocketAddr,
    /// Whether per-container metric series carry `pod` and `container` labels; without
    /// them, series are per namespace.
    pub metrics_pod_labels: bool,
    /// Seconds the series of a removed container are kept, so its last counts are scraped.
    pub metrics_grace_secs: u64,
    /// Rule files that extend the built-in rules, in order (docs/rules.md). They are
    /// reloaded on SIGHUP and when they change.
    pub rules_files: Vec<std::path::PathBuf>,
    /// Turn the built-in rules off entirely (only `rules_files` apply).
    pub default_rules: bool,
    /// Write events to stdout.
    pub stdout: bool,
    /// Kinds written to stdout (empty: all).
    pub stdout_kinds: Vec<String>,
    /// Alerts below this severity are not written to stdout.
    pub stdout_min_severity: Option<Severity>,
    /// Also write JSON lines to this file, rotated by size.
    pub file_path: Option<PathBuf>,
    /// Size at which the file is rotated.
    pub file_max_bytes: u64,
    /// Rotated files kept (`events.json.1` ... `.N`).
    pub file_keep: u32,
    pub file_kinds: Vec<String>,
    pub file_min_severity: Option<Severity>,
    /// POST events to this URL.
    pub webhook_url: Option<String>,
    /// `privmon` (the event as written) or `falcosidekick`.
    pub webhook_format: WebhookFormat,
    /// Kinds sent to the webhook (default: alerts only).
    pub webhook_kinds: Vec<String>,
    pub webhook_min_severity: Option<Severity>,
    /// Events waiting for the webhook; beyond it they are dropped and counted.
    pub webhook_queue_capacity: usize,
    pub webhook_timeout_secs: u64,
    /// Attempts per event, the first included.
    pub webhook_attempts: u32,
    /// Wait before the first retry, doubled for each next one.
    pub webhook_backoff_ms: u64,
    /// Recent events kept for clients of the live stream (`/events`, `privmon tail`).
    pub stream_history: usize,
    /// Bearer token the live stream requires. Without one the stream is served only when
    /// `listen` is a loopback address.
    pub api_token: Option<String>,
    /// File holding the bearer token (e.g. a mounted Kubernetes secret).
    pub api_token_file: Option<PathBuf>,
    /// Where the least-privilege advisor keeps what it learned (`advisor.json`); null keeps
    /// it in memory only.
    pub state_dir: Option<PathBuf>,
    /// Seconds a workload is watched before its capability baseline is fixed; later uses of
    /// other capabilities raise `capability_outside_baseline`.
    pub baseline_learning_secs: u64,
    /// How each sensitive-operation group is covered: `auto` (capability checks and other
    /// zero-tax sources; what they miss is reported), `on` (plus syscall tracepoints, which
    /// slow every syscall of the node) or `off`.
    pub operations: OperationGroups,
    /// Ask the container runtime's CRI socket (containerd, CRI-O) for what the OCI state
    /// lacks: pod labels, image digests.
    pub cri: bool,
    /// The CRI socket; null: the first of /run/containerd/containerd.sock,
    /// /run/crio/crio.sock, /run/k3s/containerd/containerd.sock that exists.
    pub cri_socket: Option<PathBuf>,
    /// Timeout of one CRI call, in milliseconds.
    pub cri_timeout_ms: u64,
}

/// Coverage of each sensitive-operation group (docs/events.md lists what each holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
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

impl Default for Config {
    fn default() -> Self {
        Self {
            hook: HookChoice::Auto,
            watch: Watch::Containers,
            dedup_window_secs: 60,
            always_emit_denied: true,
            ring_buffer_bytes: 16 << 20,
            event_queue_capacity: 8192,
            node_name: None,
            stats_interval_secs: 60,
            trusted_registries: Vec::new(),
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            metrics_pod_labels: true,
            metrics_grace_secs: 300,
            rules_files: Vec::new(),
            default_rules: true,
            stdout: true,
            stdout_kinds: Vec::new(),
            stdout_min_severity: None,
            file_path: None,
            file_max_bytes: 100 << 20,
            file_keep: 5,
            file_kinds: Vec::new(),
            file_min_severity: None,
            webhook_url: None,
            webhook_format: WebhookFormat::Privmon,
            webhook_kinds: vec!["alert".to_string()],
            webhook_min_severity: None,
            webhook_queue_capacity: 1000,
            webhook_timeout_secs: 5,
            webhook_attempts: 4,
            webhook_backoff_ms: 500,
            stream_history: 1000,
            api_token: None,
            api_token_file: None,
            state_dir: Some(PathBuf::from(DEFAULT_STATE_DIR)),
            baseline_learning_secs: 86_400,
            operations: OperationGroups::default(),
            cri: true,
            cri_socket: None,
            cri_timeout_ms: 1000,
        }
    }
}

/// Where the advisor's state lives by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/privmon";

/// Flags that override the file's keys one by one.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConfigFlags {
    /// Capability-check hook.
    #[arg(long, value_enum)]
    pub hook: Option<HookChoice>,
    /// Which processes to watch.
    #[arg(long, value_enum)]
    pub watch: Option<Watch>,
    /// Seconds before a repeated (cgroup, cap, verdict, syscall, comm) is reported again; 0 = every check.
    #[arg(long, value_name = "SECS")]
    pub dedup_window_secs: Option<u64>,
    /// Report every denied check, bypassing the first-seen filter.
    #[arg(long, value_name = "BOOL")]
    pub always_emit_denied: Option<bool>,
    /// Kernel ring-buffer size in bytes (power of two, >= 4096) [default: 16777216].
    #[arg(long, value_name = "BYTES")]
    pub ring_buffer_bytes: Option<u32>,
    /// Records queued for the output thread; when full, they wait in the ring buffer
    /// [default: 8192].
    #[arg(long, value_name = "N")]
    pub event_queue_capacity: Option<usize>,
    /// Node name in events.
    #[arg(long, value_name = "NAME", env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Seconds between statistics log lines; 0 = off.
    #[arg(long, value_name = "SECS")]
    pub stats_interval_secs: Option<u64>,
    /// Image reference prefix that counts as trusted (repeat for several; replaces the file's list).
    #[arg(long = "trusted-registry", value_name = "PREFIX")]
    pub trusted_registries: Vec<String>,
    /// Address of /metrics, /healthz and /readyz [default: 127.0.0.1:9798].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<std::net::SocketAddr>,
    /// Label per-container series with pod and container (false: per namespace only).
    #[arg(long, value_name = "BOOL")]
    pub metrics_pod_labels: Option<bool>,
    /// Seconds a removed container's series are kept before they are dropped.
    #[arg(long, value_name = "SECS")]
    pub metrics_grace_secs: Option<u64>,
    /// Rule file extending the built-in rules (repeat for several; replaces the file's list).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules_files: Vec<std::path::PathBuf>,
    /// Use the built-in rules (false: only --rules files apply).
    #[arg(long, value_name = "BOOL")]
    pub default_rules: Option<bool>,
    /// Write events to stdout.
    #[arg(long, value_name = "BOOL")]
    pub stdout: Option<bool>,
    /// Kinds written to stdout, comma-separated (default: all).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub stdout_kinds: Option<Vec<String>>,
    /// Alerts below this severity are not written to stdout.
    #[arg(long, value_name = "SEVERITY")]
    pub stdout_min_severity: Option<Severity>,
    /// Also write JSON lines to this file, rotated by size.
    #[arg(long, value_name = "PATH")]
    pub file_path: Option<PathBuf>,
    /// Size at which the file is rotated [default: 104857600].
    #[arg(long, value_name = "BYTES")]
    pub file_max_bytes: Option<u64>,
    /// Rotated files kept [default: 5].
    #[arg(long, value_name = "N")]
    pub file_keep: Option<u32>,
    /// Kinds written to the file, comma-separated (default: all).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub file_kinds: Option<Vec<String>>,
    /// Alerts below this severity are not written to the file.
    #[arg(long, value_name = "SEVERITY")]
    pub file_min_severity: Option<Severity>,
    /// POST events to this URL.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
    /// Webhook payload.
    #[arg(long, value_enum)]
    pub webhook_format: Option<WebhookFormat>,
    /// Kinds sent to the webhook, comma-separated [default: alert].
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub webhook_kinds: Option<Vec<String>>,
    /// Alerts below this severity are not sent to the webhook.
    #[arg(long, value_name = "SEVERITY")]
    pub webhook_min_severity: Option<Severity>,
    /// Events waiting for the webhook before they are dropped [default: 1000].
    #[arg(long, value_name = "N")]
    pub webhook_queue_capacity: Option<usize>,
    /// Timeout of one webhook request [default: 5].
    #[arg(long, value_name = "SECS")]
    pub webhook_timeout_secs: Option<u64>,
    /// Attempts per event, the first included [default: 4].
    #[arg(long, value_name = "N")]
    pub webhook_attempts: Option<u32>,
    /// Wait before the first retry, doubled each time [default: 500].
    #[arg(long, value_name = "MS")]
    pub webhook_backoff_ms: Option<u64>,
    /// Recent events kept for live-stream clients [default: 1000].
    #[arg(long, value_name = "N")]
    pub stream_history: Option<usize>,
    /// Bearer token the live stream requires (needed to serve it beyond loopback).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PRIVMON_API_TOKEN",
        hide_env_values = true
    )]
    pub api_token: Option<String>,
    /// File holding the bearer token.
    #[arg(long, value_name = "PATH")]
    pub api_token_file: Option<PathBuf>,
    /// Directory for the advisor's state [default: /var/lib/privmon].
    #[arg(long, value_name = "PATH", conflicts_with = "no_state")]
    pub state_dir: Option<PathBuf>,
    /// Keep the advisor's state in memory only (YAML: `state_dir: null`).
    #[arg(long)]
    pub no_state: bool,
    /// Seconds of learning before a workload's capability baseline is fixed [default: 86400].
    #[arg(long, value_name = "SECS")]
    pub baseline_learning_secs: Option<u64>,
    /// Coverage of sensitive-operation groups, GROUP=MODE (mounts, namespaces, kernel,
    /// processes, files, misc or all; auto, on or off), repeatable: `--operations all=on`.
    #[arg(long, value_name = "GROUP=MODE", value_delimiter = ',')]
    pub operations: Vec<String>,
    /// Ask the container runtime's CRI socket for pod labels and image digests
    /// [default: true].
    #[arg(long, value_name = "BOOL")]
    pub cri: Option<bool>,
    /// The CRI socket [default: the first of /run/containerd/containerd.sock,
    /// /run/crio/crio.sock, /run/k3s/containerd/containerd.sock that exists].
    #[arg(long, value_name = "PATH")]
    pub cri_socket: Option<PathBuf>,
    /// Timeout of one CRI call [default: 1000].
    #[arg(long, value_name = "MS")]
    pub cri_timeout_ms: Option<u64>,
}

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
        if let Some(v) = flags.hook {
            self.hook = v;
        }
        if let Some(v) = flags.watch {
            self.watch = v;
        }
        if let Some(v) = flags.dedup_window_secs {
            self.dedup_window_secs = v;
        }
        if let Some(v) = flags.always_emit_denied {
            self.always_emit_denied = v;
        }
        if let Some(v) = flags.ring_buffer_bytes {
            self.ring_buffer_bytes = v;
        }
        if let Some(v) = flags.event_queue_capacity {
            self.event_queue_capacity = v;
        }
        if let Some(v) = &flags.node_name {
            self.node_name = Some(v.clone());
        }
        if let Some(v) = flags.stats_interval_secs {
            self.stats_interval_secs = v;
        }
        if let Some(v) = flags.listen {
            self.listen = v;
        }
        if let Some(v) = flags.metrics_pod_labels {
            self.metrics_pod_labels = v;
        }
        if let Some(v) = flags.metrics_grace_secs {
            self.metrics_grace_secs = v;
        }
        if !flags.rules_files.is_empty() {
            self.rules_files = flags.rules_files.clone();
        }
        if let Some(v) = flags.default_rules {
            self.default_rules = v;
        }
        macro_rules! set {
            ($($f:ident),*) => {$(
                if let Some(v) = &flags.$f {
                    self.$f = v.clone();
                }
            )*};
        }
        macro_rules! set_some {
            ($($f:ident),*) => {$(
                if let Some(v) = &flags.$f {
                    self.$f = Some(v.clone());
                }
            )*};
        }
        set!(
            stdout,
            stdout_kinds,
            file_max_bytes,
            file_keep,
            file_kinds,
            webhook_format,
            webhook_kinds,
            webhook_queue_capacity,
            webhook_timeout_secs,
            webhook_attempts,
            webhook_backoff_ms,
            stream_history,
            baseline_learning_secs,
            cri,
            cri_timeout_ms
        );
        if let Some(dir) = &flags.state_dir {
            self.state_dir = Some(dir.clone());
        }
        if flags.no_state {
            self.state_dir = None;
        }
        set_some!(
            stdout_min_severity,
            file_path,
            file_min_severity,
            webhook_url,
            webhook_min_severity,
            api_token,
            api_token_file,
            cri_socket
        );
        if !flags.trusted_registries.is_empty() {
            self.trusted_registries = flags.trusted_registries.clone();
        }
        for setting in &flags.operations {
            self.operations
                .apply(setting)
                .map_err(|message| ConfigError {
                    source_name: "command line".to_string(),
                    line: None,
                    key: Some("--operations".to_string()),
                    message,
                })?;
        }
        self.validate().map_err(|(key, message)| ConfigError {
            source_name: "command line".to_string(),
            line: None,
            key: Some(format!("--{}", key.replace('_', "-"))),
            message,
        })?;
        Ok(self)
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        let rb = self.ring_buffer_bytes;
        if !rb.is_power_of_two() || rb < 4096 {
            return Err((
                "ring_buffer_bytes",
                format!("{rb} is not a power of two of at least 4096"),
            ));
        }
        if self.trusted_registries.iter().any(|r| r.trim().is_empty()) {
            return Err((
                "trusted_registries",
                "entries must be non-empty image reference prefixes".to_string(),
            ));
        }
        if self.event_queue_capacity == 0 {
            return Err(("event_queue_capacity", "must be at least 1".to_string()));
        }
        if self.dedup_window_secs > 86_400 * 365 {
            return Err(("dedup_window_secs", "must be at most one year".to_string()));
        }
        for (key, kinds) in [
            ("stdout_kinds", &self.stdout_kinds),
            ("file_kinds", &self.file_kinds),
            ("webhook_kinds", &self.webhook_kinds),
        ] {
            if let Some(k) = kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
                return Err((
                    key,
                    format!("unknown kind `{k}` (one of {})", KINDS.join(", ")),
                ));
            }
        }
        if let Some(url) = &self.webhook_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err((
                "webhook_url",
                format!("`{url}` is not an http:// or https:// URL"),
            ));
        }
        if self.webhook_queue_capacity == 0 {
            return Err(("webhook_queue_capacity", "must be at least 1".to_string()));
        }
        if self.file_max_bytes < 4096 {
            return Err(("file_max_bytes", "must be at least 4096".to_string()));
        }
        if self.api_token.is_some() && self.api_token_file.is_some() {
            return Err((
                "api_token",
                "set api_token or api_token_file, not both".to_string(),
            ));
        }
        if self.api_token.as_ref().is_some_and(|t| t.trim().len() < 16) {
            return Err(("api_token", "must be at least 16 characters".to_string()));
        }
        if self.metrics_grace_secs > 86_400 {
            return Err(("metrics_grace_secs", "must be at most one day".to_string()));
        }
        if !(1..=60_000).contains(&self.cri_timeout_ms) {
            return Err(("cri_timeout_ms", "must be between 1 and 60000".to_string()));
        }
        if self.node_name.as_ref().is_some_and(|n| n.trim().is_empty()) {
            return Err(("node_name", "must not be empty".to_string()));
        }
        Ok(())
    }
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
            operations: v.iter().map(|s| s.to_string()).collect(),
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
            dedup_window_secs: Some(0),
            hook: Some(HookChoice::Tracepoint),
            ..Default::default()
        };
        let c = c.with_flags(&flags).unwrap();
        assert_eq!(c.dedup_window_secs, 0);
        assert_eq!(c.hook, HookChoice::Tracepoint);
        let bad = ConfigFlags {
            event_queue_capacity: Some(0),
            ..Default::default()
        };
        let err = Config::default().with_flags(&bad).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("--event-queue-capacity"));
    }
}
