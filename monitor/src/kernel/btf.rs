//! A small reader of kernel BTF (`/sys/kernel/btf/vmlinux`): just enough to find struct member
//! offsets and function parameters, which the probes need because Rust eBPF programs get no
//! CO-RE relocations.
//!
//! The daemon parses the whole kernel BTF (~150k types) at every start, so the parse keeps
//! no per-type allocations: members live in one flat table and names stay offsets into the
//! string section until a lookup compares them. Only structs are indexed by name (a few
//! dozen lookups); the few functions looked up are found by a scan.

use std::{collections::HashMap, ops::Range, path::Path};

use anyhow::{Context as _, bail, ensure};

const MAGIC: u16 = 0xeb9f;

const KIND_INT: u32 = 1;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_DECL_TAG: u32 = 17;
const KIND_ENUM64: u32 = 19;

/// One parsed type; only the parts privmon reads are kept.
#[derive(Debug, Clone)]
struct Type {
    kind: u32,
    /// Offset of its name in the string section.
    name: u32,
    /// FUNC: its FUNC_PROTO.
    type_id: u32,
    /// STRUCT/UNION and FUNC_PROTO: its entries in [`KernelBtf::members`].
    members: Range<u32>,
}

/// A struct/union member or a function parameter.
#[derive(Debug, Clone, Copy)]
struct Member {
    /// Offset of its name in the string section.
    name: u32,
    type_id: u32,
    /// STRUCT/UNION: bit offset; FUNC_PROTO: 0.
    bits: u32,
}

/// Parsed kernel BTF.
pub struct KernelBtf {
    /// Index 0 is the implicit `void`.
    types: Vec<Type>,
    members: Vec<Member>,
    strings: Vec<u8>,
    /// Structs by name -> type id (the first of that name).
    structs: HashMap<String, u32>,
}

fn u16_at(b: &[u8], off: usize) -> anyhow::Result<u16> {
    let s = b.get(off..off + 2).context("BTF truncated")?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> anyhow::Result<u32> {
    let s = b.get(off..off + 4).context("BTF truncated")?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The NUL-terminated name at `off` of a string section (empty if out of bounds).
fn name_in(strings: &[u8], off: u32) -> &[u8] {
    strings
        .get(off as usize..)
        .and_then(|s| s.split(|c| *c == 0).next())
        .unwrap_or_default()
}

impl KernelBtf {
    /// Reads the running kernel's BTF.
    pub fn from_sys_fs() -> anyhow::Result<Self> {
        Self::from_file(Path::new("/sys/kernel/btf/vmlinux"))
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let data = std::fs::read(path).with_context(|| {
            format!(
                "reading {} (privmon needs a kernel built with CONFIG_DEBUG_INFO_BTF)",
                path.display()
            )
        })?;
        Self::parse(&data).with_context(|| format!("parsing BTF from {}", path.display()))
    }

    /// Parses little-endian raw BTF (the format of `/sys/kernel/btf/*`).
    pub fn parse(b: &[u8]) -> anyhow::Result<Self> {
        ensure!(
            u16_at(b, 0)? == MAGIC,
            "bad BTF magic (big-endian BTF is not supported)"
        );
        let hdr_len = u32_at(b, 4)? as usize;
        let type_off = u32_at(b, 8)? as usize;
        let type_len = u32_at(b, 12)? as usize;
        let str_off = u32_at(b, 16)? as usize;
        let str_len = u32_at(b, 20)? as usize;
        let types_start = hdr_len + type_off;
        let types_end = types_start + type_len;
        let strings = b
            .get(hdr_len + str_off..hdr_len + str_off + str_len)
            .context("BTF string section out of bounds")?;
        ensure!(types_end <= b.len(), "BTF type section out of bounds");

        let mut types = vec![Type {
            kind: 0,
            name: 0,
            type_id: 0,
            members: 0..0,
        }];
        let mut members = Vec::new();
        let mut structs = HashMap::new();
        let mut off = types_start;
        while off < types_end {
            let name_off = u32_at(b, off)?;
            let info = u32_at(b, off + 4)?;
            let size_or_type = u32_at(b, off + 8)?;
            let vlen = (info & 0xffff) as usize;
            let kind = (info >> 24) & 0x1f;
            let kind_flag = info >> 31 == 1;
            off += 12;
            let first = members.len() as u32;
            let extra = match kind {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION => {
                    for i in 0..vlen {
                        let m = off + i * 12;
                        let raw = u32_at(b, m + 8)?;
                        members.push(Member {
                            name: u32_at(b, m)?,
                            type_id: u32_at(b, m + 4)?,
                            // With kind_flag the low 24 bits are the bit offset.
                            bits: if kind_flag { raw & 0x00ff_ffff } else { raw },
                        });
                    }
                    vlen * 12
                }
                // Enumerators (name, value) and parameters (name, type) share a layout: the
                // value stands in `type_id`.
                KIND_ENUM | KIND_FUNC_PROTO => {
                    for i in 0..vlen {
                        let m = off + i * 8;
                        members.push(Member {
                            name: u32_at(b, m)?,
                            type_id: u32_at(b, m + 4)?,
                            bits: 0,
                        });
                    }
                    vlen * 8
                }
                KIND_DATASEC | KIND_ENUM64 => vlen * 12,
                0 | 20.. => bail!("unknown BTF kind {kind} at offset {off}"),
                _ => 0,
            };
            off += extra;
            let id = types.len() as u32;
            if kind == KIND_STRUCT && name_off != 0 {
                let name = String::from_utf8_lossy(name_in(strings, name_off)).into_owned();
                structs.entry(name).or_insert(id);
            }
            types.push(Type {
                kind,
                name: name_off,
                type_id: size_or_type,
                members: first..members.len() as u32,
            });
        }
        Ok(Self {
            types,
            members,
            strings: strings.to_vec(),
            structs,
        })
    }

    fn members_of(&self, ty: &Type) -> &[Member] {
        self.members
            .get(ty.members.start as usize..ty.members.end as usize)
            .unwrap_or_default()
    }

    fn name(&self, member: &Member) -> &[u8] {
        name_in(&self.strings, member.name)
    }

    /// Byte offset of `member` in `struct name`, looking into anonymous struct/union members.
    pub fn member_offset(&self, name: &str, member: &str) -> Option<u32> {
        let ty = self.types.get(*self.structs.get(name)? as usize)?;
        self.find_member(ty, member.as_bytes(), 0, 0)
            .map(|bits| bits / 8)
    }

    fn find_member(&self, ty: &Type, member: &[u8], base_bits: u32, depth: u32) -> Option<u32> {
        if depth > 8 {
            return None;
        }
        let members = self.members_of(ty);
        if let Some(m) = members.iter().find(|m| self.name(m) == member) {
            return Some(base_bits + m.bits);
        }
        for m in members
            .iter()
            .filter(|m| m.name == 0 || self.name(m).is_empty())
        {
            let inner = self.types.get(m.type_id as usize)?;
            if matches!(inner.kind, KIND_STRUCT | KIND_UNION)
                && let Some(found) = self.find_member(inner, member, base_bits + m.bits, depth + 1)
            {
                return Some(found);
            }
        }
        None
    }

    /// Size in bytes of `struct name`.
    pub fn struct_size(&self, name: &str) -> Option<u32> {
        let ty = self.types.get(*self.structs.get(name)? as usize)?;
        Some(ty.type_id)
    }

    /// Whether `enum name` has the enumerator `value` (the kernel's `enum bpf_func_id` says
    /// which BPF helpers it has).
    pub fn has_enumerator(&self, name: &str, value: &str) -> bool {
        self.types
            .iter()
            .filter(|t| t.kind == KIND_ENUM && name_in(&self.strings, t.name) == name.as_bytes())
            .any(|t| {
                self.members_of(t)
                    .iter()
                    .any(|m| self.name(m) == value.as_bytes())
            })
    }

    /// Parameter names of function `name`, if the kernel's BTF describes it.
    pub fn function_params(&self, name: &str) -> Option<Vec<String>> {
        let func = self
            .types
            .iter()
            .find(|t| t.kind == KIND_FUNC && name_in(&self.strings, t.name) == name.as_bytes())?;
        let proto = self.types.get(func.type_id as usize)?;
        (proto.kind == KIND_FUNC_PROTO).then(|| {
            self.members_of(proto)
                .iter()
                .map(|m| String::from_utf8_lossy(self.name(m)).into_owned())
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A word of a synthetic type: a string (interned) or a number.
    enum W {
        S(&'static str),
        N(u32),
    }
    use W::{N, S};

    /// Builds raw BTF from type specs.
    /// (kind, name, size_or_type, vlen, kind_flag, trailing words)
    type Spec = (u32, &'static str, u32, u32, bool, Vec<W>);

    fn build(types: &[Spec]) -> Vec<u8> {
        let mut strs = vec![0u8];
        let mut intern = |s: &str| -> u32 {
            if s.is_empty() {
                return 0;
            }
            let off = strs.len() as u32;
            strs.extend_from_slice(s.as_bytes());
            strs.push(0);
            off
        };
        let mut tsec = Vec::new();
        for (kind, name, sot, vlen, kflag, words) in types {
            let info = (kind << 24) | vlen | if *kflag { 1 << 31 } else { 0 };
            for w in [intern(name), info, *sot] {
                tsec.extend_from_slice(&w.to_le_bytes());
            }
            for w in words {
                let w = match w {
                    S(s) => intern(s),
                    N(n) => *n,
                };
                tsec.extend_from_slice(&w.to_le_bytes());
            }
        }
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC.to_le_bytes());
        out.extend_from_slice(&[1, 0]);
        for w in [
            24u32,
            0,
            tsec.len() as u32,
            tsec.len() as u32,
            strs.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&tsec);
        out.extend_from_slice(&strs);
        out
    }

    fn sample() -> Vec<u8> {
        build(&[
            // 1: int
            (KIND_INT, "int", 4, 0, false, vec![N(32)]),
            // 2: struct cred { int uid; <anonymous union> at byte 8 }
            (
                KIND_STRUCT,
                "cred",
                16,
                2,
                false,
                vec![S("uid"), N(1), N(0), S(""), N(3), N(64)],
            ),
            // 3: union { int val; int euid at bit 32 } (kind_flag: bitfield-style offsets)
            (
                KIND_UNION,
                "",
                8,
                2,
                true,
                vec![S("val"), N(1), N(0), S("euid"), N(1), N(32)],
            ),
            // 4: proto (const struct cred *c, int cap); 5: func cap_capable
            (
                KIND_FUNC_PROTO,
                "",
                1,
                2,
                false,
                vec![S("c"), N(2), S("cap"), N(1)],
            ),
            (KIND_FUNC, "cap_capable", 4, 0, false, vec![]),
            // 6: enum bpf_func_id { BPF_FUNC_unspec = 0, BPF_FUNC_map_lookup_elem = 1 }
            (
                KIND_ENUM,
                "bpf_func_id",
                4,
                2,
                false,
                vec![
                    S("BPF_FUNC_unspec"),
                    N(0),
                    S("BPF_FUNC_map_lookup_elem"),
                    N(1),
                ],
            ),
        ])
    }

    #[test]
    fn finds_enumerators_and_struct_sizes() {
        let btf = KernelBtf::parse(&sample()).unwrap();
        assert!(btf.has_enumerator("bpf_func_id", "BPF_FUNC_map_lookup_elem"));
        assert!(!btf.has_enumerator("bpf_func_id", "BPF_FUNC_task_pt_regs"));
        assert!(!btf.has_enumerator("cred", "uid"));
        assert_eq!(btf.struct_size("cred"), Some(16));
        assert_eq!(btf.struct_size("pt_regs"), None);
    }

    #[test]
    fn finds_members_functions_and_anonymous_unions() {
        let btf = KernelBtf::parse(&sample()).unwrap();
        assert_eq!(btf.member_offset("cred", "uid"), Some(0));
        assert_eq!(btf.member_offset("cred", "euid"), Some(12));
        assert_eq!(btf.member_offset("cred", "nope"), None);
        assert_eq!(btf.member_offset("task_struct", "cred"), None);
        assert_eq!(
            btf.function_params("cap_capable"),
            Some(vec!["c".to_string(), "cap".to_string()])
        );
        assert_eq!(btf.function_params("cap_capable_nope"), None);
    }

    #[test]
    fn truncated_btf_is_an_error_not_a_panic() {
        let raw = sample();
        for len in 0..raw.len() {
            let _ = KernelBtf::parse(&raw[..len]);
        }
        assert!(KernelBtf::parse(&raw[..10]).is_err());
        assert!(KernelBtf::parse(b"\0\0not btf at all, really").is_err());
    }

    #[test]
    fn running_kernel_has_the_fields_the_probes_read() {
        let path = Path::new("/sys/kernel/btf/vmlinux");
        // privmon needs the kernel's BTF (docs/install.md): a kernel without it fails here.
        assert!(
            path.exists(),
            "{} absent: this kernel has no BTF, which privmon needs",
            path.display()
        );
        let btf = KernelBtf::from_file(path).unwrap();
        let cred = btf.member_offset("task_struct", "cred").unwrap();
        let real_cred = btf.member_offset("task_struct", "real_cred").unwrap();
        // real_cred and cred are adjacent pointers in every kernel since 2.6.29.
        assert_eq!(cred, real_cred + 8);
        assert!(btf.member_offset("cred", "cap_effective").is_some());
        assert!(btf.member_offset("user_namespace", "level").is_some());
        let params = btf.function_params("cap_capable").unwrap();
        assert_eq!(params.len(), 4, "{params:?}");
        // The daemon reads which BPF helpers the kernel has from this enum.
        assert!(btf.has_enumerator("bpf_func_id", "BPF_FUNC_map_lookup_elem"));
        assert!(!btf.has_enumerator("bpf_func_id", "BPF_FUNC_no_such_helper"));
        if cfg!(target_arch = "x86_64") {
            assert_eq!(btf.struct_size("pt_regs"), Some(21 * 8));
        }
    }
}
