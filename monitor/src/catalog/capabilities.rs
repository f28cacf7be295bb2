//! Linux capability names (include/uapi/linux/capability.h), the one table of them.

use std::fmt;

/// `CAP_*` names by number, up to CAP_LAST_CAP of Linux 6.18.
const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Docker's and containerd's default capability set.
pub const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// CRI-O's (smaller) default capability set.
pub const CRIO_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_KILL",
];

/// Capabilities the kernel knows (`CAP_LAST_CAP` + 1).
pub const LAST_CAP: u32 = NAMES.len() as u32;

/// A capability number, valid or not (a newer kernel may know more than this table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capability(pub u32);

/// A name that is not a Linux capability.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown capability {0:?} (expected a name such as CAP_SYS_ADMIN or sys_admin)")]
pub struct UnknownCapability(pub String);

impl Capability {
    /// `CAP_*` name; unknown numbers render as `CAP_<n>`.
    pub fn name(self) -> String {
        match NAMES.get(self.0 as usize) {
            Some(n) => (*n).to_string(),
            None => format!("CAP_{}", self.0),
        }
    }

    /// The name as [`Capability::name`] gives it, for the 64 bits of a capability mask
    /// (the names of unknown bits are made once).
    pub fn static_name(self) -> &'static str {
        static BEYOND: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        match NAMES.get(self.0 as usize) {
            Some(n) => n,
            None => BEYOND
                .get_or_init(|| {
                    (NAMES.len()..64)
                        .map(|n| &*Box::leak(format!("CAP_{n}").into_boxed_str()))
                        .collect()
                })
                .get(self.0 as usize - NAMES.len())
                .copied()
                .unwrap_or("CAP_UNKNOWN"),
        }
    }

    /// Parses `CAP_SYS_ADMIN`, `cap_sys_admin` or `sys_admin`.
    pub fn from_name(name: &str) -> Result<Capability, UnknownCapability> {
        let upper = name.trim().to_ascii_uppercase();
        let full = if upper.starts_with("CAP_") {
            upper
        } else {
            format!("CAP_{upper}")
        };
        NAMES
            .iter()
            .position(|n| *n == full)
            .map(|i| Capability(i as u32))
            .ok_or_else(|| UnknownCapability(name.to_string()))
    }

    /// All capabilities set in a kernel capability mask, in number order.
    pub fn from_mask(mask: u64) -> impl Iterator<Item = Capability> {
        (0..64u32)
            .filter(move |bit| mask & (1u64 << bit) != 0)
            .map(Capability)
    }
}

/// A capability set as a bit mask, written as the list of its names (`process.cap_effective`):
/// nothing is allocated per event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSet(pub u64);

impl CapSet {
    /// The set of the capabilities named (as `Capability::from_name` reads them); unknown
    /// names are left out.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> CapSet {
        CapSet(
            names
                .iter()
                .filter_map(|n| Capability::from_name(n.as_ref()).ok())
                .fold(0, |mask, c| mask | 1u64.checked_shl(c.0).unwrap_or(0)),
        )
    }

    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Capability::from_mask(self.0).map(Capability::static_name)
    }
}

/// A process's effective set as its difference from its container's grant (the effective
/// set of the container's OCI bundle), and the whole set as a hex mask
/// (`process.cap_effective`): a process that holds what its container was granted writes
/// two empty lists. Without a known grant (host processes), `added` is the whole set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CapEffective {
    /// In the set, not granted.
    pub added: CapSet,
    /// Granted, not in the set (dropped by the process, or never had).
    pub dropped: CapSet,
    pub mask: HexMask,
}

/// The empty set, no grant known.
impl Default for CapEffective {
    fn default() -> Self {
        CapEffective::new(0, None)
    }
}

impl CapEffective {
    pub fn new(mask: u64, grant: Option<u64>) -> CapEffective {
        let grant = grant.unwrap_or(0);
        CapEffective {
            added: CapSet(mask & !grant),
            dropped: CapSet(grant & !mask),
            mask: HexMask::new(mask),
        }
    }

    /// The whole set.
    pub fn bits(&self) -> u64 {
        self.mask.bits
    }
}

/// A capability mask written as `0x` and hex digits (`0xa80425fb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HexMask {
    bits: u64,
    text: [u8; 18],
    len: u8,
}

impl HexMask {
    pub fn new(bits: u64) -> HexMask {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 18];
        text[..2].copy_from_slice(b"0x");
        let digits = (16 - bits.leading_zeros() as usize / 4).max(1);
        for i in 0..digits {
            text[2 + i] = DIGITS[((bits >> (4 * (digits - 1 - i))) & 0xf) as usize];
        }
        HexMask {
            bits,
            text,
            len: (2 + digits) as u8,
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are written.
        std::str::from_utf8(&self.text[..self.len as usize]).unwrap_or("0x")
    }
}

impl serde::Serialize for HexMask {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Most masks whose JSON is kept (a host has few distinct capability sets).
const MASKS_KEPT: usize = 256;

impl serde::Serialize for CapSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use std::{cell::RefCell, collections::HashMap};

        use serde_json::value::RawValue;

        // The list of a mask is written once per thread, then copied as bytes.
        thread_local! {
            static JSON: RefCell<HashMap<u64, Box<RawValue>>> = RefCell::default();
        }
        JSON.with_borrow_mut(|cache| {
            if !cache.contains_key(&self.0) {
                if cache.len() >= MASKS_KEPT {
                    cache.clear();
                }
                let names: Vec<&str> = self.names().collect();
                let json = serde_json::to_string(&names)
                    .ok()
                    .and_then(|j| RawValue::from_string(j).ok());
                match json {
                    Some(j) => {
                        cache.insert(self.0, j);
                    }
                    None => return s.collect_seq(self.names()),
                }
            }
            cache[&self.0].serialize(s)
        })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_effective_set_is_written_against_its_grant() {
        assert_eq!(HexMask::new(0).as_str(), "0x0");
        assert_eq!(HexMask::new(0xa804_25fb).as_str(), "0xa80425fb");
        assert_eq!(HexMask::new(u64::MAX).as_str(), "0xffffffffffffffff");
        let e = CapEffective::new((1 << 21) | (1 << 0), Some((1 << 0) | (1 << 13)));
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"added":["CAP_SYS_ADMIN"],"dropped":["CAP_NET_RAW"],"mask":"0x200001"}"#
        );
        let host = CapEffective::new(1 << 21, None);
        assert_eq!(host.added, CapSet(1 << 21));
        assert_eq!(host.dropped, CapSet(0));
        assert_eq!(host.bits(), 1 << 21);
    }

    #[test]
    fn numbers_match_the_kernel_header() {
        assert_eq!(Capability(0).name(), "CAP_CHOWN");
        assert_eq!(Capability(7).name(), "CAP_SETUID");
        assert_eq!(Capability(13).name(), "CAP_NET_RAW");
        assert_eq!(Capability(21).name(), "CAP_SYS_ADMIN");
        assert_eq!(Capability(23).name(), "CAP_SYS_NICE");
        assert_eq!(Capability(38).name(), "CAP_PERFMON");
        assert_eq!(Capability(40).name(), "CAP_CHECKPOINT_RESTORE");
    }

    #[test]
    fn unknown_numbers_keep_their_number() {
        assert_eq!(Capability(41).name(), "CAP_41");
    }

    #[test]
    fn names_parse_in_every_spelling() {
        for s in ["CAP_SYS_ADMIN", "cap_sys_admin", "sys_admin", " SYS_ADMIN "] {
            assert_eq!(Capability::from_name(s), Ok(Capability(21)), "{s}");
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_name() {
        let err = Capability::from_name("CAP_SYS_GOD").unwrap_err();
        assert!(err.to_string().contains("CAP_SYS_GOD"), "{err}");
    }

    #[test]
    fn masks_expand_to_capabilities() {
        let caps: Vec<_> = Capability::from_mask((1 << 7) | (1 << 21) | (1 << 63)).collect();
        assert_eq!(caps, [Capability(7), Capability(21), Capability(63)]);
    }
}
