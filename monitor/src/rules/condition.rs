//! Rule conditions: a small tree over event fields, written as YAML.
//!
//! ```yaml
//! all:
//!   - {field: kind, eq: syscall}
//!   - {field: syscall.name, in: [init_module, finit_module]}
//!   - {field: syscall.args.target, glob: "/host/*"}
//!   - not: {macro: host_process}
//!   - {field: capability.name, in: dangerous_capabilities}   # a named list
//! ```
//!
//! Leaves test one field (a dotted path into the event's JSON) with one operator. Regexes
//! and globs are compiled, and field paths checked against the event schema, while the file
//! is parsed, so a mistake is reported with its line and column.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use super::fields;
use crate::event::access::{Fields, Key, Val};

/// A condition as written (references to macros and lists not yet resolved).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "Spec")]
pub enum Condition {
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
    Macro(String),
    Leaf { field: Path, op: Op },
}

/// A dotted field path, compiled to typed steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(pub Vec<Key>);

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            f.write_str(&k.text)?;
        }
        Ok(())
    }
}

impl Path {
    pub fn parse(s: &str) -> Result<Path, String> {
        if !fields::known(s) {
            return Err(format!(
                "unknown field `{s}` (fields are those of docs/event.schema.json, e.g. \
                 `kind`, `process.exe`, `syscall.args.target`, `k8s.namespace`)"
            ));
        }
        Ok(Path(Key::path(s)))
    }

    /// The value at this path in a typed event.
    pub fn find<'a>(&self, event: &'a (impl Fields + ?Sized)) -> Val<'a> {
        event.field(&self.0)
    }

    /// The value at this path in an event's JSON; `None` when a step is missing (null is a
    /// value). The engine of v1 read events this way; the differential tests keep it as the
    /// reference.
    #[cfg(test)]
    pub fn get<'a>(&self, event: &'a Value) -> Option<&'a Value> {
        let mut v = event;
        for step in &self.0 {
            v = match v {
                Value::Object(m) => m.get(&*step.text)?,
                Value::Array(a) => a.get(step.text.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(v)
    }
}

/// A set of values: inline, or the name of a list (resolved when the rule set is built).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Set {
    Inline(Vec<Value>),
    Named(String),
}

#[derive(Debug, Clone)]
pub enum Op {
    Eq(Value),
    Ne(Value),
    In(Set),
    NotIn(Set),
    /// Any element of an array field is in the set.
    AnyIn(Set),
    /// A string field contains the substring, or an array field contains the value.
    Contains(Value),
    Glob(Glob),
    Regex(Regex),
    Gt(f64),
    Ge(f64),
    Lt(f64),
    Le(f64),
    /// Present and not null.
    Exists(bool),
    /// Null, missing, or an empty string, array or object.
    Empty(bool),
}

/// A compiled glob with its source, and the length of its literal start (before the first
/// `*`, `?`, `[`, `{` or `\\`).
#[derive(Clone)]
pub struct Glob(pub String, pub globset::GlobMatcher, usize);

impl Glob {
    /// Whether `s` matches; the glob's literal start is compared first (most strings a
    /// rule's glob meets do not begin with it, and a comparison is cheaper than a match).
    pub fn matches(&self, s: &str) -> bool {
        s.starts_with(&self.0[..self.2]) && self.1.is_match(s)
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "glob({:?})", self.0)
    }
}

/// A compiled regex.
#[derive(Clone, Debug)]
pub struct Regex(pub regex::Regex);

/// The YAML form: exactly one of the combinators, or `field` with exactly one operator.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    all: Option<Vec<Condition>>,
    any: Option<Vec<Condition>>,
    not: Option<Box<Condition>>,
    #[serde(rename = "macro")]
    macro_name: Option<String>,
    field: Option<String>,
    eq: Option<Value>,
    ne: Option<Value>,
    #[serde(rename = "in")]
    in_set: Option<Set>,
    not_in: Option<Set>,
    any_in: Option<Set>,
    contains: Option<Value>,
    glob: Option<String>,
    regex: Option<String>,
    gt: Option<f64>,
    ge: Option<f64>,
    lt: Option<f64>,
    le: Option<f64>,
    exists: Option<bool>,
    empty: Option<bool>,
}

impl TryFrom<Spec> for Condition {
    type Error = String;

    fn try_from(s: Spec) -> Result<Condition, String> {
        let mut ops: Vec<Op> = Vec::new();
        if let Some(v) = s.eq {
            ops.push(Op::Eq(v));
        }
        if let Some(v) = s.ne {
            ops.push(Op::Ne(v));
        }
        if let Some(v) = s.in_set {
            ops.push(Op::In(v));
        }
        if let Some(v) = s.not_in {
            ops.push(Op::NotIn(v));
        }
        if let Some(v) = s.any_in {
            ops.push(Op::AnyIn(v));
        }
        if let Some(v) = s.contains {
            ops.push(Op::Contains(v));
        }
        if let Some(g) = s.glob {
            let m = globset::Glob::new(&g)
                .map_err(|e| format!("invalid glob `{g}`: {e}"))?
                .compile_matcher();
            let literal = g.find(['*', '?', '[', '{', '\\']).unwrap_or(g.len());
            ops.push(Op::Glob(Glob(g, m, literal)));
        }
        if let Some(r) = s.regex {
            let re = regex::Regex::new(&r).map_err(|e| {
                // The regex crate's message spans lines (pattern, caret, reason).
                let reason = e.to_string();
                let reason = reason.lines().last().unwrap_or_default().to_string();
                format!(
                    "invalid regex `{r}`: {}",
                    reason.trim_start_matches("error: ")
                )
            })?;
            ops.push(Op::Regex(Regex(re)));
        }
        for (v, f) in [
            (s.gt, Op::Gt as fn(f64) -> Op),
            (s.ge, Op::Ge),
            (s.lt, Op::Lt),
            (s.le, Op::Le),
        ] {
            if let Some(v) = v {
                ops.push(f(v));
            }
        }
        if let Some(v) = s.exists {
            ops.push(Op::Exists(v));
        }
        if let Some(v) = s.empty {
            ops.push(Op::Empty(v));
        }

        let mut forms: Vec<Condition> = Vec::new();
        if let Some(c) = s.all {
            forms.push(Condition::All(c));
        }
        if let Some(c) = s.any {
            forms.push(Condition::Any(c));
        }
        if let Some(c) = s.not {
            forms.push(Condition::Not(c));
        }
        if let Some(m) = s.macro_name {
            forms.push(Condition::Macro(m));
        }
        match (s.field, forms.len(), ops.len()) {
            (Some(field), 0, 1) => Ok(Condition::Leaf {
                field: Path::parse(&field)?,
                op: ops.pop().expect("one operator"),
            }),
            (Some(field), 0, 0) => Err(format!(
                "field `{field}` needs an operator: eq, ne, in, not_in, any_in, contains, \
                 glob, regex, gt, ge, lt, le, exists or empty"
            )),
            (Some(field), 0, _) => Err(format!(
                "field `{field}` has several operators; combine leaves with `all`"
            )),
            (None, 1, 0) => Ok(forms.pop().expect("one form")),
            (None, 0, 0) => {
                Err("empty condition: use all, any, not, macro, or field with an operator".into())
            }
            (None, 0, _) => Err("an operator needs a `field`".into()),
            _ => Err(
                "one condition per mapping: all, any, not, macro, or field with an operator \
                 (put several in a list under `all`)"
                    .into(),
            ),
        }
    }
}

/// A condition whose macros and lists are resolved.
#[derive(Debug, Clone)]
pub enum Compiled {
    All(Vec<Compiled>),
    Any(Vec<Compiled>),
    Not(Box<Compiled>),
    Leaf { field: Path, op: CompiledOp },
}

#[derive(Debug, Clone)]
pub enum CompiledOp {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    NotIn(Vec<Value>),
    AnyIn(Vec<Value>),
    Contains(Value),
    Glob(Glob),
    Regex(Regex),
    Cmp(std::cmp::Ordering, bool, f64),
    Exists(bool),
    Empty(bool),
}

/// Resolves names while a rule set is built.
pub trait Resolver {
    fn list(&self, name: &str) -> Result<Vec<Value>, String>;
    fn macro_condition(&self, name: &str, depth: usize) -> Result<Compiled, String>;
}

impl Condition {
    pub fn compile(&self, r: &dyn Resolver, depth: usize) -> Result<Compiled, String> {
        if depth > 16 {
            return Err("macros nest more than 16 deep (a macro that uses itself?)".into());
        }
        let set = |s: &Set| -> Result<Vec<Value>, String> {
            match s {
                Set::Inline(v) => Ok(v.clone()),
                Set::Named(n) => r.list(n),
            }
        };
        Ok(match self {
            Condition::All(c) => Compiled::All(
                c.iter()
                    .map(|c| c.compile(r, depth))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Any(c) => Compiled::Any(
                c.iter()
                    .map(|c| c.compile(r, depth))
                    .collect::<Result<_, _>>()?,
            ),
            Condition::Not(c) => Compiled::Not(Box::new(c.compile(r, depth)?)),
            Condition::Macro(m) => r.macro_condition(m, depth + 1)?,
            Condition::Leaf { field, op } => Compiled::Leaf {
                field: field.clone(),
                op: match op {
                    Op::Eq(v) => CompiledOp::Eq(v.clone()),
                    Op::Ne(v) => CompiledOp::Ne(v.clone()),
                    Op::In(s) => CompiledOp::In(set(s)?),
                    Op::NotIn(s) => CompiledOp::NotIn(set(s)?),
                    Op::AnyIn(s) => CompiledOp::AnyIn(set(s)?),
                    Op::Contains(v) => CompiledOp::Contains(v.clone()),
                    Op::Glob(g) => CompiledOp::Glob(g.clone()),
                    Op::Regex(re) => CompiledOp::Regex(re.clone()),
                    Op::Gt(n) => CompiledOp::Cmp(std::cmp::Ordering::Greater, false, *n),
                    Op::Ge(n) => CompiledOp::Cmp(std::cmp::Ordering::Greater, true, *n),
                    Op::Lt(n) => CompiledOp::Cmp(std::cmp::Ordering::Less, false, *n),
                    Op::Le(n) => CompiledOp::Cmp(std::cmp::Ordering::Less, true, *n),
                    Op::Exists(b) => CompiledOp::Exists(*b),
                    Op::Empty(b) => CompiledOp::Empty(*b),
                },
            },
        })
    }
}

/// Loose equality of a field with a value from a rule: YAML `0` matches JSON `0`, `"0"`
/// matches `"0"`; numbers compare as numbers; anything else as JSON.
pub fn same_val(v: Val<'_>, x: &Value) -> bool {
    match (v, x) {
        (Val::Json(v), x) => {
            if let (Value::Number(a), Value::Number(b)) = (v, x) {
                a.as_f64() == b.as_f64()
            } else {
                v == x
            }
        }
        (Val::U64(_) | Val::I64(_), Value::Number(b)) => v.as_f64() == b.as_f64(),
        (Val::Str(a), Value::String(b)) => a == b,
        (Val::Bool(a), Value::Bool(b)) => a == *b,
        (Val::Null, Value::Null) => true,
        (Val::List(_) | Val::Object { .. }, Value::Array(_) | Value::Object(_)) => {
            v.to_json().as_ref() == Some(x)
        }
        _ => false,
    }
}

/// A field as text, for globs and regexes: strings, numbers and booleans.
fn text_of<'a>(v: Val<'a>) -> Option<std::borrow::Cow<'a, str>> {
    match v {
        Val::Str(s) => Some(s.into()),
        Val::U64(n) => Some(n.to_string().into()),
        Val::I64(n) => Some(n.to_string().into()),
        Val::Bool(b) => Some(b.to_string().into()),
        Val::Json(Value::String(s)) => Some(s.as_str().into()),
        Val::Json(Value::Number(n)) => Some(n.to_string().into()),
        Val::Json(Value::Bool(b)) => Some(b.to_string().into()),
        _ => None,
    }
}

fn is_empty(v: Val<'_>) -> bool {
    match v {
        Val::Missing | Val::Null => true,
        Val::Str(s) => s.is_empty(),
        Val::List(l) => l.is_empty(),
        Val::Object { empty, .. } => empty,
        Val::Json(Value::Null) => true,
        Val::Json(Value::String(s)) => s.is_empty(),
        Val::Json(Value::Array(a)) => a.is_empty(),
        Val::Json(Value::Object(o)) => o.is_empty(),
        Val::Bool(_) | Val::U64(_) | Val::I64(_) | Val::Json(_) => false,
    }
}

impl Compiled {
    /// Whether a typed event matches: no allocation but for globs and regexes on numbers,
    /// and comparisons of whole objects.
    pub fn matches(&self, event: &(impl Fields + ?Sized)) -> bool {
        match self {
            Compiled::All(c) => c.iter().all(|c| c.matches(event)),
            Compiled::Any(c) => c.iter().any(|c| c.matches(event)),
            Compiled::Not(c) => !c.matches(event),
            Compiled::Leaf { field, op } => {
                let v = field.find(event);
                let present = !matches!(v, Val::Missing);
                match op {
                    CompiledOp::Exists(want) => v.is_null_or_missing() != *want,
                    CompiledOp::Empty(want) => is_empty(v) == *want,
                    CompiledOp::Ne(x) => !(present && same_val(v, x)),
                    CompiledOp::NotIn(set) => !(present && set.iter().any(|x| same_val(v, x))),
                    _ if !present => false,
                    CompiledOp::Eq(x) => same_val(v, x),
                    CompiledOp::In(set) => set.iter().any(|x| same_val(v, x)),
                    CompiledOp::AnyIn(set) => v
                        .items()
                        .is_some_and(|mut it| it.any(|e| set.iter().any(|x| same_val(e, x)))),
                    CompiledOp::Contains(x) => match (v.as_str(), x) {
                        (Some(s), Value::String(sub)) => s.contains(sub.as_str()),
                        _ => v.items().is_some_and(|mut it| it.any(|e| same_val(e, x))),
                    },
                    CompiledOp::Glob(g) => text_of(v).is_some_and(|s| g.matches(&s)),
                    CompiledOp::Regex(re) => text_of(v).is_some_and(|s| re.0.is_match(&s)),
                    CompiledOp::Cmp(ord, or_equal, n) => {
                        v.as_f64().and_then(|x| x.partial_cmp(n)).is_some_and(|o| {
                            o == *ord || (*or_equal && o == std::cmp::Ordering::Equal)
                        })
                    }
                }
            }
        }
    }

    /// A field this condition needs to be one of some strings (an `eq` or an `in` of
    /// strings, alone or beside the rest of an `all`; `kind` aside): the engine looks such
    /// rules up by the field's value instead of trying each.
    pub fn guard(&self) -> Option<(&Path, Vec<String>)> {
        match self {
            Compiled::Leaf { field, op }
                if !(field.0.len() == 1 && &*field.0[0].text == "kind") =>
            {
                let strings = |set: &[Value]| -> Option<Vec<String>> {
                    let v: Option<Vec<String>> =
                        set.iter().map(|v| v.as_str().map(str::to_string)).collect();
                    v.filter(|v| !v.is_empty())
                };
                match op {
                    CompiledOp::Eq(v) => strings(std::slice::from_ref(v)),
                    CompiledOp::In(set) => strings(set),
                    _ => None,
                }
                .map(|v| (field, v))
            }
            Compiled::All(c) => c.iter().find_map(Compiled::guard),
            _ => None,
        }
    }

    /// The event kinds this condition can match, if it tests `kind` with `eq` or `in` on
    /// every path to a match (`None`: any kind). The engine skips the rule for other kinds.
    pub fn kinds(&self) -> Option<Vec<String>> {
        match self {
            Compiled::Leaf { field, op } if field.0.len() == 1 && &*field.0[0].text == "kind" => {
                let strings = |set: &[Value]| -> Option<Vec<String>> {
                    set.iter().map(|v| v.as_str().map(str::to_string)).collect()
                };
                match op {
                    CompiledOp::Eq(v) => strings(std::slice::from_ref(v)),
                    CompiledOp::In(set) => strings(set),
                    _ => None,
                }
            }
            // Every member must match: the tightest member's kinds.
            Compiled::All(c) => c
                .iter()
                .filter_map(Compiled::kinds)
                .reduce(|a, b| a.into_iter().filter(|k| b.contains(k)).collect()),
            // One member suffices: the union, if every member is bounded.
            Compiled::Any(c) => {
                let mut out = Vec::new();
                for k in c.iter().map(Compiled::kinds) {
                    out.extend(k?);
                }
                out.sort();
                out.dedup();
                Some(out)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
/// Loose equality: YAML `0` matches JSON `0`, `"0"` matches `"0"`; numbers compare as
/// numbers.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
fn as_text(v: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match v {
        Value::String(s) => Some(s.as_str().into()),
        Value::Number(n) => Some(n.to_string().into()),
        Value::Bool(b) => Some(b.to_string().into()),
        _ => None,
    }
}

#[cfg(test)]
impl Compiled {
    /// v1's evaluation, on the event's JSON: the reference of the differential tests.
    pub fn matches_json(&self, event: &Value) -> bool {
        match self {
            Compiled::All(c) => c.iter().all(|c| c.matches_json(event)),
            Compiled::Any(c) => c.iter().any(|c| c.matches_json(event)),
            Compiled::Not(c) => !c.matches_json(event),
            Compiled::Leaf { field, op } => {
                let v = field.get(event);
                match op {
                    CompiledOp::Exists(want) => v.is_some_and(|v| !v.is_null()) == *want,
                    CompiledOp::Empty(want) => {
                        let empty = match v {
                            None | Some(Value::Null) => true,
                            Some(Value::String(s)) => s.is_empty(),
                            Some(Value::Array(a)) => a.is_empty(),
                            Some(Value::Object(o)) => o.is_empty(),
                            Some(_) => false,
                        };
                        empty == *want
                    }
                    CompiledOp::Ne(x) => !v.is_some_and(|v| same(v, x)),
                    CompiledOp::NotIn(set) => !v.is_some_and(|v| set.iter().any(|x| same(v, x))),
                    _ => {
                        let Some(v) = v else { return false };
                        match op {
                            CompiledOp::Eq(x) => same(v, x),
                            CompiledOp::In(set) => set.iter().any(|x| same(v, x)),
                            CompiledOp::AnyIn(set) => v
                                .as_array()
                                .is_some_and(|a| a.iter().any(|e| set.iter().any(|x| same(e, x)))),
                            CompiledOp::Contains(x) => match (v, x) {
                                (Value::String(s), Value::String(sub)) => s.contains(sub.as_str()),
                                (Value::Array(a), x) => a.iter().any(|e| same(e, x)),
                                _ => false,
                            },
                            CompiledOp::Glob(g) => as_text(v).is_some_and(|s| g.1.is_match(&*s)),
                            CompiledOp::Regex(re) => as_text(v).is_some_and(|s| re.0.is_match(&s)),
                            CompiledOp::Cmp(ord, or_equal, n) => {
                                v.as_f64().and_then(|x| x.partial_cmp(n)).is_some_and(|o| {
                                    o == *ord || (*or_equal && o == std::cmp::Ordering::Equal)
                                })
                            }
                            _ => unreachable!("handled above"),
                        }
                    }
                }
            }
        }
    }
}
