//! Blocks that many events repeat (a container, its pod, a process's arguments and
//! ancestry): made once, serialized once, and shared by reference. An event that carries
//! one writes its JSON as bytes; the rules read its typed value.

use std::{fmt, ops::Deref, sync::Arc};

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::access::{Fields, Key, Val};

struct Inner<T> {
    value: T,
    json: Box<RawValue>,
}

/// A typed block with its JSON, cheap to clone.
pub struct Shared<T>(Arc<Inner<T>>);

impl<T: Serialize> Shared<T> {
    pub fn new(value: T) -> Shared<T> {
        // Serializing a value of the contract cannot fail (no maps with non-string keys);
        // should it, the block is written as null rather than lost with its event.
        let json = serde_json::to_string(&value)
            .ok()
            .and_then(|j| RawValue::from_string(j).ok())
            .unwrap_or_else(|| RawValue::from_string("null".into()).expect("null is JSON"));
        Shared(Arc::new(Inner { value, json }))
    }
}

impl<T> Shared<T> {
    /// Whether two handles share one block (made by the same `new`).
    pub fn ptr_eq(a: &Shared<T>, b: &Shared<T>) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Shared<T> {
        Shared(self.0.clone())
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0.value
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Shared<T>) -> bool {
        self.0.value == other.0.value
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.value.fmt(f)
    }
}

impl<T> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.json.serialize(s)
    }
}

impl<T: Fields> Fields for Shared<T> {
    fn field(&self, path: &[Key]) -> Val<'_> {
        self.0.value.field(path)
    }
}

impl<T: Serialize + Default> Default for Shared<T> {
    fn default() -> Shared<T> {
        Shared::new(T::default())
    }
}

impl<T: Serialize> From<T> for Shared<T> {
    fn from(value: T) -> Shared<T> {
        Shared::new(value)
    }
}

/// A text shared by many events (a cgroup path), escaped once.
impl From<&str> for Shared<Arc<str>> {
    fn from(s: &str) -> Shared<Arc<str>> {
        Shared::new(Arc::from(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_json_it_was_made_with_and_reads_the_value() {
        let s = Shared::new(vec!["a\"b".to_string(), "c".to_string()]);
        assert_eq!(serde_json::to_string(&s).unwrap(), r#"["a\"b","c"]"#);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            serde_json::json!(["a\"b", "c"])
        );
        assert_eq!(s.field(&Key::path("1")).as_str(), Some("c"));
        assert!(Shared::ptr_eq(&s, &s.clone()));
        assert_eq!(s, Shared::new(vec!["a\"b".to_string(), "c".to_string()]));
    }
}
