//! Alert rules: YAML files of lists, macros and rules, evaluated on every event.
//!
//! The default set (`default.yaml`) is built into the binary; rule files named in the
//! configuration extend it. A rule with an id that exists replaces it when it has a
//! `condition`, and patches it otherwise (`enabled`, `severity`, `tags`, `dedup`, and
//! `exceptions`, which are added). Lists and macros with an existing name replace it.
//! See docs/rules.md.

pub mod condition;
pub mod fields;

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    path::Path as FsPath,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Whole;

use self::condition::{Compiled, CompiledOp, Condition, Path, Resolver};
use crate::event::access::{Event, Fields, Key, Val};

/// The rules built into the binary.
pub const DEFAULT_RULES: &str = include_str!("default.yaml");
/// How the built-in file is named in errors and listings.
pub const DEFAULT_SOURCE: &str = "builtin:default.yaml";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Severity, String> {
        serde_json::from_value(Value::String(s.to_string()))
            .map_err(|_| format!("unknown severity `{s}` (critical, high, medium, low, info)"))
    }
}

/// A rule file that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub source_name: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for RuleError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    #[serde(default)]
    lists: BTreeMap<String, Vec<Value>>,
    #[serde(default)]
    macros: BTreeMap<String, Condition>,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: RuleId,
    description: Option<String>,
    severity: Option<Severity>,
    mitre: Option<Vec<Technique>>,
    tags: Option<Vec<String>>,
    condition: Option<Condition>,
    summary: Option<Template>,
    enabled: Option<bool>,
    #[serde(default)]
    exceptions: Vec<Exception>,
    dedup: Option<Dedup>,
    action: Option<Action>,
}

/// What the kernel does to a check a rule with an action covers (docs/enforcement.md).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// SIGKILL at the check: the call completes, the process runs no further instruction.
    Kill,
    /// The call fails with EPERM (BPF LSM `capable`; `cgroup/sysctl` for sysctl writes).
    Deny,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Kill => "kill",
            Action::Deny => "deny",
        }
    }
}

/// `snake_case` rule ids: they are metric label values and file keys.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(try_from = "String")]
struct RuleId(String);

impl TryFrom<String> for RuleId {
    type Error = String;
    fn try_from(s: String) -> Result<RuleId, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(RuleId(s))
        } else {
            Err(format!(
                "rule id `{s}` must be snake_case (a-z, 0-9, _; at most 64 characters)"
            ))
        }
    }
}

/// A MITRE ATT&CK technique id: `T1611`, `T1547.006`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(try_from = "String")]
pub struct Technique(pub String);

impl TryFrom<String> for Technique {
    type Error = String;
    fn try_from(s: String) -> Result<Technique, String> {
        let b = s.as_bytes();
        let main = b.len() >= 5 && b[0] == b'T' && b[1..5].iter().all(u8::is_ascii_digit);
        let sub = match b.len() {
            5 => true,
            9 => b[5] == b'.' && b[6..].iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if main && sub {
            Ok(Technique(s))
        } else {
            Err(format!(
                "`{s}` is not a MITRE ATT&CK technique id (T1234 or T1234.567)"
            ))
        }
    }
}

/// A summary with `{field.path}` placeholders, and `{workload}` (pod ns/name (container c),
/// container name, or host process), `{user}` (root, uid N), `{process}` (exe or comm) and
/// `{outcome}` (the capability verdict, else what the syscall returned) and `{call}` (the
/// syscall's name, "an io_uring submission" for an io_uring worker's check, else "no
/// syscall").
#[derive(Deserialize, Clone, Debug)]
#[serde(try_from = "String")]
pub struct Template(Vec<Piece>);

#[derive(Clone, Debug)]
enum Piece {
    Text(String),
    Field(Path),
    Workload,
    User,
    Process,
    Outcome,
    Call,
}

impl TryFrom<String> for Template {
    type Error = String;
    fn try_from(s: String) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut rest = s.as_str();
        while let Some(open) = rest.find('{') {
            if open > 0 {
                pieces.push(Piece::Text(rest[..open].to_string()));
            }
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| format!("summary `{s}`: `{{` without `}}`"))?;
            let name = &rest[open + 1..open + close];
            pieces.push(match name {
                "workload" => Piece::Workload,
                "user" => Piece::User,
                "process" => Piece::Process,
                "outcome" => Piece::Outcome,
                "call" => Piece::Call,
                f => Piece::Field(Path::parse(f).map_err(|e| format!("summary: {e}"))?),
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Ok(Template(pieces))
    }
}

/// A field as a summary shows it (`None` when missing): strings bare, null as `?`, lists
/// joined with commas, anything else as JSON.
fn text(v: Val<'_>) -> Option<String> {
    Some(match v {
        Val::Missing => return None,
        Val::Null | Val::Json(Value::Null) => "?".to_string(),
        Val::Str(s) => s.to_string(),
        Val::Json(Value::String(s)) => s.clone(),
        Val::Bool(b) => b.to_string(),
        Val::U64(n) => n.to_string(),
        Val::I64(n) => n.to_string(),
        Val::List(_) | Val::Json(Value::Array(_)) => v
            .items()
            .into_iter()
            .flatten()
            .map(|e| text(e).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(","),
        Val::Object { .. } | Val::Json(_) => v.to_json().unwrap_or_default().to_string(),
    })
}

crate::event::access::paths!(fn paths_of -> Paths {
    k8s_pod = "k8s.pod",
    k8s_namespace = "k8s.namespace",
    k8s_container = "k8s.container",
    container_name = "container.name",
    container_id = "container.id",
    container_image = "container.image",
    capability_verdict = "capability.verdict",
    syscall_result = "syscall.result",
    process_euid = "process.euid",
    process_exe = "process.exe",
    process_comm = "process.comm",
    process_io_worker = "process.io_worker",
    syscall_name = "syscall.name",
});

/// "pod payments/api-7d9 (container api)", "container web (3f1c9a2b7d10)", "host process".
pub fn workload(event: &(impl Fields + ?Sized)) -> String {
    let p = paths_of();
    let s = |path: &[Key]| event.field(path).as_str();
    if let Some(pod) = s(&p.k8s_pod) {
        let ns = s(&p.k8s_namespace).unwrap_or("?");
        match s(&p.k8s_container).or(s(&p.container_name)) {
            Some(name) => format!("pod {ns}/{pod} (container {name})"),
            None => format!("pod {ns}/{pod}"),
        }
    } else if let Some(id) = s(&p.container_id) {
        let short: String = id.chars().take(12).collect();
        match s(&p.container_name) {
            Some(name) => format!("container {name} ({short})"),
            None => format!("container {short}"),
        }
    } else {
        "host process".to_string()
    }
}

/// The process as a summary names it: its executable, else its command name, else `?`.
pub fn process_name(event: &(impl Fields + ?Sized)) -> &str {
    let p = paths_of();
    event
        .field(&p.process_exe)
        .as_str()
        .or(event.field(&p.process_comm).as_str())
        .unwrap_or("?")
}

/// The call that made the check: the syscall's name; an io_uring worker's has none (it
/// runs a submission of its process), nor has a check outside syscalls.
fn call(event: &(impl Fields + ?Sized)) -> &str {
    let p = paths_of();
    match event.field(&p.syscall_name).as_str() {
        Some(name) => name,
        None if event.field(&p.process_io_worker).as_bool() == Some(true) => {
            "an io_uring submission"
        }
        None => "no syscall",
    }
}

/// `allowed`/`denied` from the capability check, else `succeeded`/`failed (errno N)` from
/// the syscall's result (a fallback tracepoint's event has no check), else `?`.
fn outcome(event: &(impl Fields + ?Sized)) -> String {
    let p = paths_of();
    if let Some(v) = event.field(&p.capability_verdict).as_str() {
        return v.to_string();
    }
    match event.field(&p.syscall_result).as_i64() {
        Some(r) if r < 0 => format!("failed, errno {}", -r),
        Some(_) => "succeeded".to_string(),
        None => "?".to_string(),
    }
}

impl Template {
    pub fn render(&self, event: &(impl Fields + ?Sized)) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Field(f) => out.push_str(&text(f.find(event)).unwrap_or("?".into())),
                Piece::Workload => out.push_str(&workload(event)),
                Piece::User => match event.field(&paths_of().process_euid).as_u64() {
                    Some(0) => out.push_str("root"),
                    Some(n) => out.push_str(&format!("uid {n}")),
                    None => out.push_str("an unknown user"),
                },
                Piece::Outcome => out.push_str(&outcome(event)),
                Piece::Call => out.push_str(call(event)),
                Piece::Process => out.push_str(process_name(event)),
            }
        }
        out
    }
}

/// Events an exception spares: every listed key must match one of its globs.
#[derive(Deserialize, Clone, Debug)]
#[serde(try_from = "ExceptionSpec")]
pub struct Exception(Vec<(ExceptionKey, Vec<globset::GlobMatcher>)>);

impl Exception {
    /// Whether it names a process (`exe`), which the kernel's enforcement map cannot.
    fn names_process(&self) -> bool {
        self.0.iter().any(|(k, _)| matches!(k, ExceptionKey::Exe))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionSpec {
    namespace: Option<Vec<String>>,
    pod: Option<Vec<String>>,
    image: Option<Vec<String>>,
    container: Option<Vec<String>>,
    exe: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug)]
enum ExceptionKey {
    Namespace,
    Pod,
    Image,
    Container,
    Exe,
}

impl TryFrom<ExceptionSpec> for Exception {
    type Error = String;
    fn try_from(s: ExceptionSpec) -> Result<Exception, String> {
        let mut out = Vec::new();
        for (key, globs) in [
            (ExceptionKey::Namespace, s.namespace),
            (ExceptionKey::Pod, s.pod),
            (ExceptionKey::Image, s.image),
            (ExceptionKey::Container, s.container),
            (ExceptionKey::Exe, s.exe),
        ] {
            if let Some(globs) = globs {
                let compiled = globs
                    .iter()
                    .map(|g| {
                        globset::Glob::new(g)
                            .map(|g| g.compile_matcher())
                            .map_err(|e| format!("exception: invalid glob `{g}`: {e}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                out.push((key, compiled));
            }
        }
        if out.is_empty() {
            return Err(
                "an exception names at least one of namespace, pod, image, container, exe".into(),
            );
        }
        Ok(Exception(out))
    }
}

impl Exception {
    fn spares(&self, event: &(impl Fields + ?Sized)) -> bool {
        let p = paths_of();
        let s = |path: &[Key]| event.field(path).as_str();
        self.0.iter().all(|(key, globs)| {
            let v = match key {
                ExceptionKey::Namespace => s(&p.k8s_namespace),
                ExceptionKey::Pod => s(&p.k8s_pod),
                ExceptionKey::Image => s(&p.container_image),
                ExceptionKey::Container => s(&p.k8s_container).or(s(&p.container_name)),
                ExceptionKey::Exe => s(&p.process_exe),
            };
            v.is_some_and(|v| globs.iter().any(|g| g.is_match(v)))
        })
    }
}

/// Repeats of a rule for the same container (and `by` fields) within `window_secs` are
/// counted into one alert instead of raising one each.
#[derive(Deserialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct Dedup {
    #[serde(default = "default_window")]
    window_secs: u64,
    #[serde(default, deserialize_with = "paths")]
    by: Vec<Path>,
}

fn default_window() -> u64 {
    60
}

fn paths<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Path>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    names
        .iter()
        .map(|n| Path::parse(n).map_err(serde::de::Error::custom))
        .collect()
}

/// A rule ready to run.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub severity: Severity,
    pub mitre: Vec<Technique>,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub source: String,
    condition: Compiled,
    summary: Template,
    exceptions: Vec<Exception>,
    window: Duration,
    by: Vec<Path>,
    /// `kill` or `deny`: enforcement acts on what the rule covers (docs/enforcement.md).
    pub action: Option<Action>,
}

/// What a rule with an action covers in one container: the capabilities whose allowed
/// use it matches, and whether it matches a write under `/proc/sys`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Covers {
    pub capabilities: u64,
    pub sysctl_writes: bool,
}

/// The fields a rule with an action may test: what the kernel's per-cgroup map can
/// express (the workload, the capability and its verdict), plus the event's kind, group
/// and source, which only tell a capability check from a sysctl write.
fn expressible(path: &Path, op: &CompiledOp) -> Result<(), String> {
    let text = path.to_string();
    let first = text.split('.').next().unwrap_or_default();
    let ok = match first {
        "container" | "k8s" | "node" | "kind" | "group" | "source" => true,
        "capability" => matches!(
            text.as_str(),
            "capability.name" | "capability.number" | "capability.verdict" | "capability.audit"
        ),
        // Any sysctl write: the map holds no sysctl names.
        "syscall" => text == "syscall.args.sysctl" && matches!(op, CompiledOp::Exists(true)),
        _ => false,
    };
    if ok {
        Ok(())
    } else if text == "syscall.args.sysctl" {
        Err(
            "`syscall.args.sysctl` may only be tested with `exists: true` (the kernel's \
             enforcement map denies a container's sysctl writes, not single sysctls)"
                .to_string(),
        )
    } else {
        Err(format!(
            "a rule with an action may test only what the kernel decides from (container.*, \
             k8s.*, capability.name, capability.verdict, capability.audit, kind, group, \
             source, syscall.args.sysctl exists); `{text}` is not among them"
        ))
    }
}

/// The first field of a compiled condition that a rule with an action may not test.
fn check_expressible(c: &Compiled) -> Result<(), String> {
    match c {
        Compiled::All(cs) | Compiled::Any(cs) => cs.iter().try_for_each(check_expressible),
        Compiled::Not(c) => check_expressible(c),
        Compiled::Leaf { field, op } => expressible(field, op),
    }
}

/// Whether a compiled condition tests `syscall.args.sysctl`.
fn tests_sysctl(c: &Compiled) -> bool {
    match c {
        Compiled::All(cs) | Compiled::Any(cs) => cs.iter().any(tests_sysctl),
        Compiled::Not(c) => tests_sysctl(c),
        Compiled::Leaf { field, .. } => field.to_string() == "syscall.args.sysctl",
    }
}

impl Rule {
    /// Whether a rule's action is about sysctl writes only (its condition tests
    /// `syscall.args.sysctl`): a deny then needs `cgroup/sysctl`, not BPF LSM.
    pub fn denies_only_sysctl_writes(&self) -> bool {
        tests_sysctl(&self.condition)
    }

    /// What this rule's action covers for a container: its condition evaluated on each
    /// allowed, audited capability check in the container (host scope), and on a write
    /// under `/proc/sys`. `header`: the container's (process fields are not read).
    pub fn covers(&self, header: &crate::event::Header) -> Covers {
        use crate::catalog::capabilities::{Capability, LAST_CAP};
        use crate::event::{CapabilityEvent, CapabilityUse, OperationEvent, SyscallDetail};
        let mut out = Covers::default();
        if self.action.is_none() {
            return out;
        }
        let mut ev = CapabilityEvent {
            header: crate::event::Header {
                kind: "capability",
                ..header.clone()
            },
            capability: CapabilityUse {
                audit: Some(true),
                name: "".into(),
                number: 0,
                scope: "host",
                verdict: "allowed",
            },
            syscall: None,
        };
        for cap in 0..LAST_CAP.min(64) {
            ev.capability.name = Capability(cap).static_name().into();
            ev.capability.number = cap;
            if self.condition.matches(&ev) && !self.exceptions.iter().any(|e| e.spares(&ev)) {
                out.capabilities |= 1 << cap;
            }
        }
        let mut args = BTreeMap::new();
        args.insert("sysctl", Value::String("*".into()));
        let write = OperationEvent {
            header: crate::event::Header {
                kind: "syscall",
                ..header.clone()
            },
            group: "files",
            syscall: SyscallDetail {
                args,
                name: "write",
                number: -1,
                result: None,
            },
            capability: None,
            checks: Vec::new(),
            source: "cgroup_sysctl",
            namespace: None,
        };
        out.sysctl_writes =
            self.condition.matches(&write) && !self.exceptions.iter().any(|e| e.spares(&write));
        out
    }
}

/// Where a rule came from, for locating errors found after parsing.
struct Origin {
    source: usize,
    spec: RuleSpec,
}

/// The active rule set.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

/// One rule source: a name for messages and its text.
pub struct Source {
    pub name: String,
    pub text: String,
}

impl Source {
    pub fn builtin() -> Source {
        Source {
            name: DEFAULT_SOURCE.to_string(),
            text: DEFAULT_RULES.to_string(),
        }
    }

    pub fn read(path: &FsPath) -> Result<Source, RuleError> {
        let text = std::fs::read_to_string(path).map_err(|e| RuleError {
            source_name: path.display().to_string(),
            line: None,
            column: None,
            message: format!("cannot read: {e}"),
        })?;
        Ok(Source {
            name: path.display().to_string(),
            text,
        })
    }
}

/// The 1-based (line, column) of the first `needle` at or after line `from`.
fn locate(text: &str, needle: &str, from: usize) -> Option<(usize, usize)> {
    text.lines()
        .enumerate()
        .skip(from.saturating_sub(1))
        .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
}

impl RuleSet {
    /// The built-in rules (unless `defaults` is false) plus `files`, in order.
    pub fn load(defaults: bool, files: &[std::path::PathBuf]) -> Result<RuleSet, RuleError> {
        let mut sources = Vec::new();
        if defaults {
            sources.push(Source::builtin());
        }
        for f in files {
            sources.push(Source::read(f)?);
        }
        RuleSet::from_sources(&sources)
    }

    pub fn from_sources(sources: &[Source]) -> Result<RuleSet, RuleError> {
        let mut lists: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut macros: BTreeMap<String, (usize, Condition)> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut rules: HashMap<String, Origin> = HashMap::new();
        for (i, src) in sources.iter().enumerate() {
            let err = |line, column, message: String| RuleError {
                source_name: src.name.clone(),
                line,
                column,
                message,
            };
            let blank = src.text.lines().all(|l| {
                let l = l.trim();
                l.is_empty() || l.starts_with('#') || l == "---"
            });
            if blank {
                continue;
            }
            let file: RuleFile = serde_yaml_ng::from_str(&src.text).map_err(|e| {
                let msg = e.to_string();
                let msg = match msg.rfind(" at line ") {
                    Some(i) => msg[..i].to_string(),
                    None => msg,
                };
                // Errors raised while building a value (a bad regex, an unknown field) are
                // placed at the enclosing mapping; the quoted culprit is usually further on.
                let at = e.location().map(|l| (l.line(), l.column()));
                let culprit = msg.split('`').nth(1).filter(|c| !c.is_empty());
                let refined = at
                    .zip(culprit)
                    .and_then(|((line, _), c)| locate(&src.text, c, line));
                let (line, column) = refined.or(at).unzip();
                err(line, column, msg)
            })?;
            lists.extend(file.lists);
            for (name, c) in file.macros {
                macros.insert(name, (i, c));
            }
            for spec in file.rules {
                let id = spec.id.0.clone();
                let at = || locate(&src.text, &format!("id: {id}"), 1);
                match (rules.get_mut(&id), spec.condition.is_some()) {
                    (_, true) => {
                        for (key, missing) in [
                            ("description", spec.description.is_none()),
                            ("severity", spec.severity.is_none()),
                            ("summary", spec.summary.is_none()),
                        ] {
                            if missing {
                                let (l, c) = at().unzip();
                                return Err(err(
                                    l,
                                    c,
                                    format!("rule `{id}`: a rule with a condition needs `{key}`"),
                                ));
                            }
                        }
                        if !rules.contains_key(&id) {
                            order.push(id.clone());
                        }
                        rules.insert(id, Origin { source: i, spec });
                    }
                    (Some(existing), false) => patch(&mut existing.spec, spec),
                    (None, false) => {
                        let (l, c) = at().unzip();
                        return Err(err(
                            l,
                            c,
                            format!(
                                "rule `{id}` has no condition and patches no existing rule \
                                 (`privmon rules list` shows the ids)"
                            ),
                        ));
                    }
                }
            }
        }

        struct Names<'a> {
            lists: &'a BTreeMap<String, Vec<Value>>,
            macros: &'a BTreeMap<String, (usize, Condition)>,
        }
        impl Resolver for Names<'_> {
            fn list(&self, name: &str) -> Result<Vec<Value>, String> {
                self.lists
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("unknown list `{name}`"))
            }
            fn macro_condition(&self, name: &str, depth: usize) -> Result<Compiled, String> {
                let (_, c) = self
                    .macros
                    .get(name)
                    .ok_or_else(|| format!("unknown macro `{name}`"))?;
                c.compile(self, depth)
                    .map_err(|e| format!("in macro `{name}`: {e}"))
            }
        }
        let names = Names {
            lists: &lists,
            macros: &macros,
        };
        let mut out = Vec::new();
        for id in order {
            let o = &rules[&id];
            let s = &o.spec;
            let src = &sources[o.source];
            let condition = s
                .condition
                .as_ref()
                .expect("full rules have a condition")
                .compile(&names, 0)
                .map_err(|message| {
                    // Point at the unknown name if it is in this rule, else at the rule.
                    let start = locate(&src.text, &format!("id: {id}"), 1).map_or(1, |l| l.0);
                    let quoted = message.split('`').nth(1).unwrap_or_default();
                    let (line, column) = locate(&src.text, quoted, start)
                        .filter(|_| !quoted.is_empty())
                        .or_else(|| locate(&src.text, &format!("id: {id}"), 1))
                        .unzip();
                    RuleError {
                        source_name: src.name.clone(),
                        line,
                        column,
                        message: format!("rule `{id}`: {message}"),
                    }
                })?;
            if s.action.is_some() {
                let refuse = |message: String| {
                    let (line, column) = locate(&src.text, &format!("id: {id}"), 1).unzip();
                    RuleError {
                        source_name: src.name.clone(),
                        line,
                        column,
                        message: format!("rule `{id}`: {message}"),
                    }
                };
                check_expressible(&condition).map_err(refuse)?;
                if s.exceptions.iter().any(Exception::names_process) {
                    return Err(refuse(
                        "a rule with an action may not have an `exe` exception (the kernel \
                         acts before the process's executable is known to the daemon)"
                            .to_string(),
                    ));
                }
            }
            let dedup = s.dedup.clone().unwrap_or(Dedup {
                window_secs: default_window(),
                by: Vec::new(),
            });
            out.push(Rule {
                id: id.clone(),
                description: s.description.clone().unwrap_or_default(),
                severity: s.severity.unwrap_or(Severity::Info),
                mitre: s.mitre.clone().unwrap_or_default(),
                tags: s.tags.clone().unwrap_or_default(),
                enabled: s.enabled.unwrap_or(true),
                source: src.name.clone(),
                condition,
                summary: s.summary.clone().expect("full rules have a summary"),
                exceptions: s.exceptions.clone(),
                window: Duration::from_secs(dedup.window_secs),
                by: dedup.by,
                action: s.action,
            });
        }
        Ok(RuleSet { rules: out })
    }

    pub fn enabled(&self) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(|r| r.enabled)
    }
}

/// A rule entry without a condition adjusts the existing rule of that id.
fn patch(existing: &mut RuleSpec, p: RuleSpec) {
    if p.enabled.is_some() {
        existing.enabled = p.enabled;
    }
    if p.severity.is_some() {
        existing.severity = p.severity;
    }
    if p.tags.is_some() {
        existing.tags = p.tags;
    }
    if p.dedup.is_some() {
        existing.dedup = p.dedup;
    }
    if p.description.is_some() {
        existing.description = p.description;
    }
    if p.summary.is_some() {
        existing.summary = p.summary;
    }
    if p.mitre.is_some() {
        existing.mitre = p.mitre;
    }
    if p.action.is_some() {
        existing.action = p.action;
    }
    existing.exceptions.extend(p.exceptions);
}

/// An `alert` event.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub time: Value,
    pub kind: &'static str,
    pub node: Value,
    pub process: Value,
    pub container: Value,
    pub k8s: Value,
    pub cgroup: Value,
    pub rule: String,
    pub severity: Severity,
    pub mitre: Vec<Technique>,
    pub tags: Vec<String>,
    pub summary: String,
    /// How many matching events this alert stands for: 1 for the first of a window; for
    /// the alert that closes a window, the repeats since that first one.
    pub count: u64,
    /// Seconds over which repeats are counted into one alert.
    pub window_secs: u64,
    pub event: Value,
}

struct Window {
    opened: Instant,
    repeats: u64,
    /// The JSON of the last repeat: the alert that closes the window quotes it.
    last: Option<(Box<str>, Whole)>,
    rule: usize,
}

impl Window {
    /// A window of rule `rule` opened by a match at `now` (that match is alerted on).
    fn open(now: Instant, rule: usize) -> Window {
        Window {
            opened: now,
            repeats: 0,
            last: None,
            rule,
        }
    }
}

/// Most open dedup windows kept; beyond it, a new window replaces nothing and its repeats
/// raise alerts of their own (counted in `dedup_overflow`).
const MAX_WINDOWS: usize = 16_384;

/// Which rules can match an event of each kind: a rule whose condition bounds `kind`
/// (`eq`/`in`) is listed under those kinds only, and a rule that tests a field for a string
/// (`eq`, or `in` a list of strings, beside the rest of an `all`) is looked up by that
/// field's value. The cost of an event does not grow with the rules that cannot match it.
#[derive(Default)]
struct KindIndex {
    by_kind: crate::FastMap<String, Candidates>,
    /// Rules for any kind: those of a kind the index does not list.
    any_kind: Candidates,
}

/// The rules one kind's events are tried against.
#[derive(Default)]
struct Candidates {
    /// Tried on every event, in rule order.
    unguarded: Vec<usize>,
    /// By field: the rules whose condition needs that field to be one of the strings.
    guards: Vec<(Path, crate::FastMap<String, Vec<usize>>)>,
}

impl Candidates {
    fn new(ids: &[usize], rules: &[Rule]) -> Candidates {
        let mut c = Candidates::default();
        for &i in ids {
            match rules[i].condition.guard() {
                None => c.unguarded.push(i),
                Some((path, values)) => {
                    let at = match c.guards.iter().position(|(p, _)| p == path) {
                        Some(at) => at,
                        None => {
                            c.guards.push((path.clone(), crate::FastMap::default()));
                            c.guards.len() - 1
                        }
                    };
                    for v in values {
                        let ids = c.guards[at].1.entry(v).or_default();
                        if ids.last() != Some(&i) {
                            ids.push(i);
                        }
                    }
                }
            }
        }
        c
    }

    /// The rules to try on `event`, in rule order, into `out` (cleared first).
    fn select(&self, event: &(impl Fields + ?Sized), out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.unguarded);
        let before = out.len();
        for (path, by_value) in &self.guards {
            if let Some(ids) = path.find(event).as_str().and_then(|v| by_value.get(v)) {
                out.extend_from_slice(ids);
            }
        }
        if out.len() > before {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// Every rule listed, in rule order.
    #[cfg(test)]
    fn all(&self) -> Vec<usize> {
        let mut out = self.unguarded.clone();
        for (_, by_value) in &self.guards {
            out.extend(by_value.values().flatten());
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

impl KindIndex {
    fn new(rules: &RuleSet) -> KindIndex {
        let bounds: Vec<(usize, Option<Vec<String>>)> = rules
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enabled)
            .map(|(i, r)| (i, r.condition.kinds()))
            .collect();
        let mut ids: HashMap<String, Vec<usize>> = HashMap::new();
        let mut any_kind = Vec::new();
        for (_, kinds) in &bounds {
            for k in kinds.iter().flatten() {
                ids.entry(k.clone()).or_default();
            }
        }
        for (i, kinds) in bounds {
            match kinds {
                None => {
                    any_kind.push(i);
                    ids.values_mut().for_each(|v| v.push(i));
                }
                Some(kinds) => {
                    for k in kinds {
                        ids.get_mut(&k).expect("listed above").push(i);
                    }
                }
            }
        }
        KindIndex {
            by_kind: ids
                .into_iter()
                .map(|(k, ids)| (k, Candidates::new(&ids, &rules.rules)))
                .collect(),
            any_kind: Candidates::new(&any_kind, &rules.rules),
        }
    }

    fn rules(&self, kind: &str) -> &Candidates {
        self.by_kind.get(kind).unwrap_or(&self.any_kind)
    }
}

/// Evaluates events against a rule set, with per-rule dedup windows.
pub struct Engine {
    rules: RuleSet,
    index: KindIndex,
    windows: crate::FastMap<(usize, String), Window>,
    pub dedup_overflow: u64,
    /// Alerts whose event's JSON could not be read back (cannot happen for JSON privmon
    /// wrote itself; counted rather than lost silently).
    pub unreadable: u64,
    /// The rules tried on the current event (kept to reuse its allocation).
    scratch: Vec<usize>,
}

impl Engine {
    pub fn new(rules: RuleSet) -> Engine {
        Engine {
            index: KindIndex::new(&rules),
            rules,
            windows: crate::FastMap::default(),
            dedup_overflow: 0,
            unreadable: 0,
            scratch: Vec::new(),
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// Swaps in a new rule set; open windows are closed first (their repeats reported).
    pub fn replace(&mut self, rules: RuleSet, now: Instant) -> Vec<Alert> {
        let out = self.close_all(now);
        self.index = KindIndex::new(&rules);
        self.rules = rules;
        out
    }

    /// The alerts `event` raises now. `json` is its JSON line if it was written already;
    /// else it is serialized if an alert quotes it.
    pub fn evaluate<E: Event + Serialize + ?Sized>(
        &mut self,
        event: &E,
        json: Option<&str>,
        now: Instant,
    ) -> Vec<Alert> {
        let mut line = Line {
            json: json.map(std::borrow::Cow::Borrowed),
            event,
        };
        let kind = event.kind();
        if kind == "alert" {
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut whole: Option<Whole> = None;
        let mut ids = std::mem::take(&mut self.scratch);
        self.index.rules(kind).select(event, &mut ids);
        for &i in &ids {
            let rule = &self.rules.rules[i];
            if !rule.condition.matches(event) || rule.exceptions.iter().any(|e| e.spares(event)) {
                continue;
            }
            let whole = whole.get_or_insert_with(|| Whole::of(event));
            if rule.window.is_zero() {
                out.extend(alert(rule, line.get(), whole, 1, &mut self.unreadable));
                continue;
            }
            let mut key = event
                .field(&paths_of().container_id)
                .as_str()
                .unwrap_or("")
                .to_string();
            for p in &rule.by {
                key.push('\u{1f}');
                key.push_str(&text(p.find(event)).unwrap_or_default());
            }
            match self.windows.get_mut(&(i, key.clone())) {
                Some(w) if now.duration_since(w.opened) < rule.window => {
                    w.repeats += 1;
                    w.last = Some((line.get().into(), whole.clone()));
                }
                Some(w) => {
                    // The window ended without a flush: report it, open a new one.
                    if let (true, Some((last, last_whole))) = (w.repeats > 0, &w.last) {
                        out.extend(alert(
                            rule,
                            last,
                            last_whole,
                            w.repeats,
                            &mut self.unreadable,
                        ));
                    }
                    *w = Window::open(now, i);
                    out.extend(alert(rule, line.get(), whole, 1, &mut self.unreadable));
                }
                None => {
                    if self.windows.len() < MAX_WINDOWS {
                        self.windows.insert((i, key), Window::open(now, i));
                    } else {
                        self.dedup_overflow += 1;
                    }
                    out.extend(alert(rule, line.get(), whole, 1, &mut self.unreadable));
                }
            }
        }
        self.scratch = ids;
        out
    }

    /// [`Engine::evaluate`] of an event given as JSON.
    #[cfg(test)]
    pub fn evaluate_json(&mut self, event: &Value, now: Instant) -> Vec<Alert> {
        self.evaluate(event, Some(&event.to_string()), now)
    }

    /// Closes the windows that have ended: one alert with the count of their repeats.
    pub fn flush(&mut self, now: Instant) -> Vec<Alert> {
        let rules = &self.rules.rules;
        let unreadable = &mut self.unreadable;
        let mut out = Vec::new();
        self.windows.retain(|_, w| {
            let rule = &rules[w.rule];
            if now.duration_since(w.opened) < rule.window {
                return true;
            }
            if let (true, Some((last, whole))) = (w.repeats > 0, &w.last) {
                out.extend(alert(rule, last, whole, w.repeats, unreadable));
            }
            false
        });
        out
    }

    fn close_all(&mut self, _now: Instant) -> Vec<Alert> {
        let rules = &self.rules.rules;
        let unreadable = &mut self.unreadable;
        let mut out = Vec::new();
        for (_, w) in self.windows.drain() {
            if let (true, Some((last, whole))) = (w.repeats > 0, &w.last) {
                out.extend(alert(&rules[w.rule], last, whole, w.repeats, unreadable));
            }
        }
        out
    }
}

/// An event's JSON line: the one written, or made when first needed.
struct Line<'a, E: ?Sized> {
    json: Option<std::borrow::Cow<'a, str>>,
    event: &'a E,
}

impl<E: Serialize + ?Sized> Line<'_, E> {
    fn get(&mut self) -> &str {
        // An event that cannot be serialized quotes as "" (its alert is counted unreadable).
        self.json
            .get_or_insert_with(|| serde_json::to_string(self.event).unwrap_or_default().into())
    }
}

/// The alert of `rule` quoting the event whose JSON line is `json` (read back: alerts are
/// few, events many, so the events stay typed and the alerts pay for the JSON), with the
/// event's container, pod and cgroup blocks whole.
fn alert(
    rule: &Rule,
    json: &str,
    whole: &Whole,
    count: u64,
    unreadable: &mut u64,
) -> Option<Alert> {
    match serde_json::from_str::<Value>(json) {
        Ok(mut event) => {
            whole.fill(&mut event);
            Some(alert_of(rule, &event, count))
        }
        Err(_) => {
            *unreadable += 1;
            None
        }
    }
}

fn alert_of(rule: &Rule, event: &Value, count: u64) -> Alert {
    Alert {
        time: event["time"].clone(),
        kind: "alert",
        node: event["node"].clone(),
        process: event["process"].clone(),
        container: event["container"].clone(),
        k8s: event["k8s"].clone(),
        cgroup: event["cgroup"].clone(),
        rule: rule.id.clone(),
        severity: rule.severity,
        mitre: rule.mitre.clone(),
        tags: rule.tags.clone(),
        summary: rule.summary.render(event),
        count,
        window_secs: rule.window.as_secs(),
        event: event.clone(),
    }
}

/// 500 rules for the index's tests and the benchmark, most matching nothing: each tests a
/// field for strings (the executable, the command, the capability, the syscall, the
/// namespace, the image), on one kind or any; one in ten tests only a glob. With
/// `some_matching`, one in 50 tests a value the test samples have.
#[doc(hidden)]
pub fn generated_rules(some_matching: bool) -> String {
    let mut out = String::from("rules:\n");
    let fields = [
        "process.exe",
        "process.comm",
        "capability.name",
        "syscall.name",
        "k8s.namespace",
        "container.image",
    ];
    let kinds = ["capability", "syscall", "namespace", "credentials"];
    for i in 0..500 {
        let field = fields[i % fields.len()];
        let kind = kinds[i % kinds.len()];
        let value = match (some_matching, i % 50, field) {
            (true, 0, "process.comm") => "mount".to_string(),
            (true, 0, "capability.name") => "CAP_SYS_ADMIN".to_string(),
            (true, 0, "k8s.namespace") => "payments".to_string(),
            _ => format!("/opt/tool-{i}"),
        };
        let test = if i % 3 == 0 {
            format!("{{field: {field}, in: [\"{value}\", \"other-{i}\"]}}")
        } else {
            format!("{{field: {field}, eq: \"{value}\"}}")
        };
        let condition = match i % 10 {
            // No guard: a glob, tried on every event of its kind.
            9 => format!(
                "all: [{{field: kind, eq: {kind}}}, {{field: process.exe, glob: \"/opt/x{i}/*\"}}]"
            ),
            // No kind: tried on every kind, looked up by the field.
            8 => format!("all: [{test}]"),
            _ => {
                format!("all: [{{field: kind, eq: {kind}}}, {test}, {{field: process.pid, gt: 0}}]")
            }
        };
        out += &format!(
            "  - id: generated_{i}\n    description: generated\n    severity: low\n    \
             mitre: [T1611]\n    summary: generated {i}\n    condition:\n      {condition}\n"
        );
    }
    out
}

#[cfg(test)]
mod tests;
