//! Typed field access: what a rule, the advisor or a sink reads of an event, without turning
//! the event into a `serde_json::Value`.
//!
//! A dotted field path (`k8s.namespace`, `process.ancestors.0.exe`) is compiled once, when the
//! rule file loads, into [`Key`]s whose names are an enum; each event block answers a path
//! with a match on that enum, borrowing what it holds. This file stands alone (the rule
//! parser's fuzz target compiles it with the rules, without the rest of the daemon). The answers mean exactly what the same
//! path means in the event's JSON (the contract of docs/event.schema.json): a field the JSON
//! leaves out is [`Val::Missing`], a `null` is [`Val::Null`], and stepping into a scalar or a
//! null is missing. `rules/tests.rs` checks this against the JSON, path by path.

use std::{collections::BTreeMap, sync::Arc};

use serde::Serialize;
use serde_json::Value;

macro_rules! names {
    ($($variant:ident => $name:literal,)*) => {
        /// The field names the event contract's blocks have.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Name {
            $($variant,)*
            /// A name no block of the contract has (syscall arguments, pod labels).
            Other,
        }

        impl Name {
            fn of(s: &str) -> Name {
                match s {
                    $($name => Name::$variant,)*
                    _ => Name::Other,
                }
            }
        }
    };
}

names! {
    Action => "action",
    Added => "added",
    AddedOverDefault => "added_over_default",
    Ancestors => "ancestors",
    Args => "args",
    Audit => "audit",
    Bounding => "bounding",
    CapEffective => "cap_effective",
    Capabilities => "capabilities",
    Capability => "capability",
    Cause => "cause",
    Cgroup => "cgroup",
    Checks => "checks",
    Comm => "comm",
    Container => "container",
    Count => "count",
    Credentials => "credentials",
    Denied => "denied",
    Dropped => "dropped",
    Effective => "effective",
    Egid => "egid",
    Enforcement => "enforcement",
    Euid => "euid",
    Exe => "exe",
    Exec => "exec",
    Filename => "filename",
    Fsgid => "fsgid",
    Fsuid => "fsuid",
    Gid => "gid",
    Group => "group",
    Groups => "groups",
    HostDevices => "host_devices",
    HostNamespaces => "host_namespaces",
    Ia32 => "ia32",
    Id => "id",
    Image => "image",
    ImageId => "image_id",
    ImagePinned => "image_pinned",
    ImageTrusted => "image_trusted",
    Inheritable => "inheritable",
    Inode => "inode",
    IoWorker => "io_worker",
    K8s => "k8s",
    Kind => "kind",
    Labels => "labels",
    Mask => "mask",
    Name => "name",
    Namespace => "namespace",
    New => "new",
    NoNewPrivs => "no_new_privs",
    Node => "node",
    Number => "number",
    Old => "old",
    Operation => "operation",
    Operations => "operations",
    Owner => "owner",
    Path => "path",
    Permitted => "permitted",
    Pid => "pid",
    Pod => "pod",
    Policy => "policy",
    PodUid => "pod_uid",
    Posture => "posture",
    Ppid => "ppid",
    Privileged => "privileged",
    Process => "process",
    ReadonlyRootfs => "readonly_rootfs",
    Result => "result",
    Runtime => "runtime",
    RunsAsRoot => "runs_as_root",
    RuntimeSetup => "runtime_setup",
    Scope => "scope",
    Seccomp => "seccomp",
    SensitiveMounts => "sensitive_mounts",
    SharedPropagation => "shared_propagation",
    Source => "source",
    Syscall => "syscall",
    Target => "target",
    Tid => "tid",
    Time => "time",
    Type => "type",
    Types => "types",
    Uid => "uid",
    Verdict => "verdict",
    WritableSensitiveMounts => "writable_sensitive_mounts",
}

/// One step of a compiled path: a block's field, a map's key or an array's index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    pub name: Name,
    /// The step as written: the key of a map (syscall arguments, labels, JSON objects).
    pub text: Box<str>,
    /// The step as an array index, if it is a number.
    pub index: Option<usize>,
}

impl Key {
    pub fn new(step: &str) -> Key {
        Key {
            name: Name::of(step),
            text: step.into(),
            index: step.parse().ok(),
        }
    }

    /// The steps of a dotted path.
    pub fn path(dotted: &str) -> Vec<Key> {
        dotted.split('.').map(Key::new).collect()
    }
}

/// What a path finds in an event, borrowed from it.
#[derive(Clone, Copy)]
pub enum Val<'a> {
    /// Not in the JSON at all (an absent field, or a step into a scalar or a null).
    Missing,
    Null,
    Bool(bool),
    U64(u64),
    I64(i64),
    Str(&'a str),
    List(&'a dyn List),
    /// A JSON object: a block, or a map (`empty` for a map without entries).
    Object {
        empty: bool,
        block: &'a dyn ToJson,
    },
    /// A part of the event that is JSON already (decoded syscall arguments).
    Json(&'a Value),
}

impl std::fmt::Debug for Val<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_json() {
            None => f.write_str("Missing"),
            Some(v) => write!(f, "{v}"),
        }
    }
}

impl<'a> Val<'a> {
    /// The JSON this value stands for (`None` when missing). Allocates: for comparisons of
    /// whole objects or lists, and for tests.
    pub fn to_json(&self) -> Option<Value> {
        Some(match *self {
            Val::Missing => return None,
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::U64(n) => n.into(),
            Val::I64(n) => n.into(),
            Val::Str(s) => s.into(),
            Val::List(l) => l.to_json(),
            Val::Object { block, .. } => block.to_json(),
            Val::Json(v) => v.clone(),
        })
    }

    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Val::Str(s) => Some(s),
            Val::Json(v) => v.as_str(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Val::Bool(b) => Some(b),
            Val::Json(v) => v.as_bool(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Val::U64(n) => Some(n),
            Val::I64(n) => u64::try_from(n).ok(),
            Val::Json(v) => v.as_u64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Val::U64(n) => i64::try_from(n).ok(),
            Val::I64(n) => Some(n),
            Val::Json(v) => v.as_i64(),
            _ => None,
        }
    }

    /// A number as `f64`, as `serde_json::Value::as_f64` gives it.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Val::U64(n) => Some(n as f64),
            Val::I64(n) => Some(n as f64),
            Val::Json(v) => v.as_f64(),
            _ => None,
        }
    }

    pub fn is_null_or_missing(&self) -> bool {
        matches!(self, Val::Missing | Val::Null | Val::Json(Value::Null))
    }

    /// Whether it is a JSON number.
    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Val::U64(_) | Val::I64(_) | Val::Json(Value::Number(_))
        )
    }

    /// The elements of a list, `None` for anything else.
    pub fn items(&self) -> Option<Items<'a>> {
        match *self {
            Val::List(l) => Some(Items::List(l, 0)),
            Val::Json(Value::Array(a)) => Some(Items::Json(a.iter())),
            _ => None,
        }
    }
}

/// The elements of a [`Val`] list.
pub enum Items<'a> {
    List(&'a dyn List, usize),
    Json(std::slice::Iter<'a, Value>),
}

impl<'a> Iterator for Items<'a> {
    type Item = Val<'a>;

    fn next(&mut self) -> Option<Val<'a>> {
        match self {
            Items::List(l, i) => {
                let l: &'a dyn List = *l;
                let v = (*i < l.len()).then(|| l.item(*i, &[]))?;
                *i += 1;
                Some(v)
            }
            Items::Json(it) => it.next().map(Val::Json),
        }
    }
}

/// Anything that can stand in for its JSON (objects and lists, when compared whole).
pub trait ToJson {
    fn to_json(&self) -> Value;
}

impl<T: Serialize + ?Sized> ToJson for T {
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// A JSON array held by an event.
pub trait List: ToJson {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Element `i` (< `len()`), and `rest` below it.
    fn item(&self, i: usize, rest: &[Key]) -> Val<'_>;
}

/// A part of an event that answers paths below it.
pub trait Fields {
    /// The value at `path` below this (the whole of it for an empty path).
    fn field(&self, path: &[Key]) -> Val<'_>;
}

/// A scalar: itself for the empty path, missing below.
fn scalar<'a>(v: Val<'a>, rest: &[Key]) -> Val<'a> {
    if rest.is_empty() { v } else { Val::Missing }
}

macro_rules! scalars {
    ($($t:ty => |$s:ident| $e:expr,)*) => {
        $(impl Fields for $t {
            fn field(&self, path: &[Key]) -> Val<'_> {
                let $s = self;
                scalar($e, path)
            }
        })*
    };
}

scalars! {
    bool => |b| Val::Bool(*b),
    u32 => |n| Val::U64(u64::from(*n)),
    u64 => |n| Val::U64(*n),
    i32 => |n| Val::I64(i64::from(*n)),
    i64 => |n| Val::I64(*n),
    String => |s| Val::Str(s),
    str => |s| Val::Str(s),
}

impl Fields for std::borrow::Cow<'_, str> {
    fn field(&self, path: &[Key]) -> Val<'_> {
        scalar(Val::Str(self), path)
    }
}

impl<T: Fields + ?Sized> Fields for &T {
    fn field(&self, path: &[Key]) -> Val<'_> {
        (**self).field(path)
    }
}

impl<T: Fields + ?Sized> Fields for Arc<T> {
    fn field(&self, path: &[Key]) -> Val<'_> {
        (**self).field(path)
    }
}

impl<T: Fields + ?Sized> Fields for Box<T> {
    fn field(&self, path: &[Key]) -> Val<'_> {
        (**self).field(path)
    }
}

/// `None` is a JSON null (fields left out when `None` are handled by their block).
impl<T: Fields> Fields for Option<T> {
    fn field(&self, path: &[Key]) -> Val<'_> {
        match self {
            Some(v) => v.field(path),
            None => scalar(Val::Null, path),
        }
    }
}

impl<T: Fields + Serialize> List for Vec<T> {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }

    fn item(&self, i: usize, rest: &[Key]) -> Val<'_> {
        self[i].field(rest)
    }
}

/// A syscall's six raw arguments.
impl List for [u64; 6] {
    fn len(&self) -> usize {
        6
    }

    fn item(&self, i: usize, rest: &[Key]) -> Val<'_> {
        self[i].field(rest)
    }
}

/// A list's answer to a path: itself, or an element and the path below it.
pub fn list<'a, L: List>(l: &'a L, path: &[Key]) -> Val<'a> {
    match path {
        [] => Val::List(l),
        [k, rest @ ..] => match k.index {
            Some(i) if i < l.len() => l.item(i, rest),
            _ => Val::Missing,
        },
    }
}

impl<T: Fields + Serialize> Fields for Vec<T> {
    fn field(&self, path: &[Key]) -> Val<'_> {
        list(self, path)
    }
}

impl Fields for [u64; 6] {
    fn field(&self, path: &[Key]) -> Val<'_> {
        list(self, path)
    }
}

impl<K: std::borrow::Borrow<str> + Ord + Serialize, V: Fields + Serialize> Fields
    for BTreeMap<K, V>
{
    fn field(&self, path: &[Key]) -> Val<'_> {
        match path {
            [] => Val::Object {
                empty: self.is_empty(),
                block: self,
            },
            [k, rest @ ..] => match self.get(&*k.text) {
                Some(v) => v.field(rest),
                None => Val::Missing,
            },
        }
    }
}

/// An event read back from its JSON (alerts of closed windows, the advisor's tests).
impl Fields for Value {
    fn field(&self, path: &[Key]) -> Val<'_> {
        let mut v = self;
        for k in path {
            v = match v {
                Value::Object(m) => match m.get(&*k.text) {
                    Some(v) => v,
                    None => return Val::Missing,
                },
                Value::Array(a) => match k.index.and_then(|i| a.get(i)) {
                    Some(v) => v,
                    None => return Val::Missing,
                },
                _ => return Val::Missing,
            };
        }
        Val::Json(v)
    }
}

/// `impl Fields` for a block whose JSON has the struct's fields: `name: field` for each,
/// `name?: field` for an `Option` left out of the JSON when `None`.
macro_rules! block {
    ($t:ty { $($name:ident $(? $skip:tt)? : $field:ident),* $(,)? }) => {
        impl $crate::event::access::Fields for $t {
            fn field(&self, path: &[$crate::event::access::Key]) -> $crate::event::access::Val<'_> {
                use $crate::event::access::{Name, Val};
                match path {
                    [] => Val::Object { empty: false, block: self },
                    [k, rest @ ..] => match k.name {
                        $(Name::$name => $crate::event::access::block!(@get self.$field, rest $(, $skip)?),)*
                        _ => Val::Missing,
                    },
                }
            }
        }
    };
    (@get $e:expr, $rest:ident) => { $crate::event::access::Fields::field(&$e, $rest) };
    (@get $e:expr, $rest:ident, $skip:tt) => {
        match &$e {
            Some(v) => $crate::event::access::Fields::field(v, $rest),
            None => Val::Missing,
        }
    };
}

pub(crate) use block;

/// Paths a module reads, compiled once: `paths!(pub fn p -> P { k8s_pod = "k8s.pod", })`
/// declares the struct `P` of `Vec<Key>`s and `p()`, which builds it on first use.
macro_rules! paths {
    ($vis:vis fn $f:ident -> $t:ident { $($field:ident = $path:literal,)* }) => {
        $vis struct $t {
            $(pub $field: Vec<$crate::event::access::Key>,)*
        }

        $vis fn $f() -> &'static $t {
            static P: std::sync::OnceLock<$t> = std::sync::OnceLock::new();
            P.get_or_init(|| $t {
                $($field: $crate::event::access::Key::path($path),)*
            })
        }
    };
}

pub(crate) use paths;

/// A whole event: its kind, and the paths below it.
pub trait Event: Fields {
    fn kind(&self) -> &str;

    /// The kind, where it is a constant (typed events).
    fn static_kind(&self) -> Option<&'static str> {
        None
    }
}

impl Event for Value {
    fn kind(&self) -> &str {
        self["kind"].as_str().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_paths_mean_what_they_mean_in_json() {
        let v = json!({"a": {"b": [1, {"c": null}], "0": "zero"}, "s": "x"});
        let get = |p: &str| v.field(&Key::path(p)).to_json();
        assert_eq!(get("a.b.0"), Some(json!(1)));
        assert_eq!(get("a.b.1.c"), Some(Value::Null));
        assert_eq!(get("a.b.1.c.d"), None);
        assert_eq!(get("a.0"), Some(json!("zero")));
        assert_eq!(get("a.b.x"), None);
        assert_eq!(get("s.t"), None);
        assert_eq!(get("nope"), None);
    }

    #[test]
    fn options_lists_and_maps() {
        let none: Option<u32> = None;
        assert!(matches!(none.field(&[]), Val::Null));
        assert!(matches!(none.field(&Key::path("x")), Val::Missing));
        let l = vec!["a".to_string(), "b".to_string()];
        assert_eq!(l.field(&Key::path("1")).as_str(), Some("b"));
        assert!(matches!(l.field(&Key::path("2")), Val::Missing));
        assert_eq!(l.field(&[]).items().map(Iterator::count), Some(2));
        let mut m = BTreeMap::new();
        m.insert("target", json!("/host"));
        assert_eq!(m.field(&Key::path("target")).as_str(), Some("/host"));
        assert!(matches!(m.field(&Key::path("source")), Val::Missing));
    }
}
