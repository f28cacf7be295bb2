//! Syscall names by number, per architecture.

mod aarch64;
mod i386;
mod x86_64;

/// Architectures whose syscall numbers privmon can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
    /// x86_64's ia32 entry (`int 0x80`, 32-bit binaries): never [`Arch::host`].
    I386,
}

impl Arch {
    /// The architecture this daemon was built for (the kernel's, since the eBPF object is
    /// built for the same target).
    pub const fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else {
            None
        }
    }

    fn table(self) -> &'static [&'static str] {
        match self {
            Arch::X86_64 => &x86_64::NAMES,
            Arch::Aarch64 => &aarch64::NAMES,
            Arch::I386 => &i386::NAMES,
        }
    }

    /// Name of syscall `nr`, if it has one.
    pub fn name(self, nr: i64) -> Option<&'static str> {
        let idx = usize::try_from(nr).ok()?;
        self.table().get(idx).copied().filter(|n| !n.is_empty())
    }

    /// Number of the syscall called `name`.
    pub fn number(self, name: &str) -> Option<i64> {
        self.table()
            .iter()
            .position(|n| *n == name)
            .map(|i| i as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i386_numbers_match_the_abi() {
        let a = Arch::I386;
        assert_eq!(a.name(21), Some("mount"));
        assert_eq!(a.name(23), Some("setuid"));
        assert_eq!(a.name(213), Some("setuid32"));
        assert_eq!(a.name(346), Some("setns"));
        assert_eq!(a.name(435), Some("clone3"));
        assert_eq!(a.name(453), None);
    }

    #[test]
    fn x86_64_numbers_match_the_abi() {
        let a = Arch::X86_64;
        assert_eq!(a.name(0), Some("read"));
        assert_eq!(a.name(41), Some("socket"));
        assert_eq!(a.name(105), Some("setuid"));
        assert_eq!(a.name(141), Some("setpriority"));
        assert_eq!(a.name(165), Some("mount"));
        assert_eq!(a.name(272), Some("unshare"));
        assert_eq!(a.name(435), Some("clone3"));
        assert_eq!(a.name(462), Some("mseal"));
        assert_eq!(a.number("unshare"), Some(272));
    }

    #[test]
    fn aarch64_numbers_match_the_generic_abi() {
        let a = Arch::Aarch64;
        assert_eq!(a.name(40), Some("mount"));
        assert_eq!(a.name(79), Some("newfstatat"));
        assert_eq!(a.name(97), Some("unshare"));
        assert_eq!(a.name(146), Some("setuid"));
        assert_eq!(a.name(198), Some("socket"));
        assert_eq!(a.name(435), Some("clone3"));
    }

    #[test]
    fn unknown_numbers_have_no_name() {
        assert_eq!(Arch::X86_64.name(-1), None);
        assert_eq!(Arch::X86_64.name(100_000), None);
        // 335..=423 is a hole in the x86_64 table.
        assert_eq!(Arch::X86_64.name(400), None);
    }
}
