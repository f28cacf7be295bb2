//! Loads and attaches the `cgroup/connect_unix` program (Linux 6.7+) with `bpf(2)` itself:
//! aya 0.14 knows neither the attach type (`BPF_CGROUP_UNIX_CONNECT`) nor a section for it,
//! and aya 0.15 needs a newer rustc than these machines have. The program is compiled into
//! the same object as the others, in a `cgroup/connect4` section that aya parses and never
//! loads; here the object is parsed again with `aya-obj` (aya's own parser), the program's
//! map references are pointed at the maps aya created, and it is loaded with the attach
//! type it needs and linked to the cgroup v2 root (a bpf_link: beside any other agent's
//! programs, as `BPF_F_ALLOW_MULTI`). Dropping [`UnixConnect`] detaches it.

use std::{
    collections::HashSet,
    ffi::CString,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd},
};

use anyhow::{Context, anyhow, bail};
use aya::{Ebpf, maps::Map};
use aya_obj::generated::{bpf_attach_type, bpf_attr, bpf_cmd, bpf_insn, bpf_prog_type};

use super::btf::KernelBtf;

/// The program's name in the object.
pub const PROGRAM: &str = "connect_unix";

/// The loaded program and its link to the cgroup v2 root; both close on drop, which
/// detaches the program.
#[derive(Debug)]
pub struct UnixConnect {
    _link: OwnedFd,
    _prog: OwnedFd,
}

/// Loads the program from `object` (the bytes `ebpf` was loaded from) against `ebpf`'s maps,
/// and attaches it to the cgroup v2 root.
pub fn attach(ebpf: &Ebpf, object: &[u8], btf: &KernelBtf) -> anyhow::Result<UnixConnect> {
    check_layout(btf)?;
    let insns = relocated(ebpf, object)?;
    let prog = load(&insns)?;
    let root = crate::resolve::cgroup::v2_root()?;
    let cgroup = std::fs::File::open(&root)
        .with_context(|| format!("opening the cgroup v2 root {}", root.display()))?;
    let link = link_create(&prog, cgroup.as_raw_fd())
        .context("attaching cgroup/connect_unix to the cgroup v2 root")?;
    Ok(UnixConnect {
        _link: link,
        _prog: prog,
    })
}

/// The program reads the head of `struct bpf_sock_addr_kern` as its context stands for
/// it: `uaddr` at 8, `uaddrlen` at 32 (Linux 6.7+). A kernel whose BTF says otherwise, or
/// has no such attach type, is refused before loading.
fn check_layout(btf: &KernelBtf) -> anyhow::Result<()> {
    if !btf.has_enumerator("bpf_attach_type", "BPF_CGROUP_UNIX_CONNECT") {
        bail!("the kernel has no BPF_CGROUP_UNIX_CONNECT attach type (Linux 6.7+)");
    }
    let uaddr = btf.member_offset("bpf_sock_addr_kern", "uaddr");
    let len = btf.member_offset("bpf_sock_addr_kern", "uaddrlen");
    if uaddr != Some(8) || len != Some(32) {
        bail!(
            "struct bpf_sock_addr_kern is laid out differently here (uaddr at {uaddr:?}, \
             uaddrlen at {len:?}; the program reads 8 and 32)"
        );
    }
    Ok(())
}

/// The program's instructions, with its calls linked and its map references pointing at
/// the maps `ebpf` created.
fn relocated(ebpf: &Ebpf, object: &[u8]) -> anyhow::Result<Vec<bpf_insn>> {
    let mut obj = aya_obj::Object::parse(object).context("parsing the eBPF object")?;
    let mut fds = Vec::new();
    for name in obj.maps.keys() {
        let map = ebpf
            .map(name)
            .with_context(|| format!("map {name} not created (or already taken)"))?;
        fds.push((
            name.clone(),
            map_fd(map).with_context(|| format!("map {name}"))?,
        ));
    }
    let text_sections: HashSet<usize> = obj.functions.keys().map(|(s, _)| *s).collect();
    let maps: Vec<(String, RawFd, aya_obj::Map)> = fds
        .into_iter()
        .map(|(name, fd)| {
            let def = obj.maps[&name].clone();
            (name, fd, def)
        })
        .collect();
    obj.relocate_maps(
        maps.iter().map(|(n, fd, m)| (n.as_str(), *fd, m)),
        &text_sections,
    )
    .map_err(|e| anyhow!("relocating maps: {e}"))?;
    obj.relocate_calls(&text_sections)
        .map_err(|e| anyhow!("relocating calls: {e}"))?;
    let prog = obj
        .programs
        .get(PROGRAM)
        .with_context(|| format!("{PROGRAM} program missing from the object"))?;
    let function = obj
        .functions
        .get(&prog.function_key())
        .with_context(|| format!("{PROGRAM}'s code missing from the object"))?;
    Ok(function.instructions.clone())
}

/// The descriptor of a map aya created, whatever its type.
fn map_fd(map: &Map) -> anyhow::Result<RawFd> {
    let data = match map {
        Map::Array(d)
        | Map::HashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuArray(d)
        | Map::PerCpuHashMap(d)
        | Map::RingBuf(d) => d,
        other => bail!("a map type this loader does not expect: {other:?}"),
    };
    Ok(data.fd().as_fd().as_raw_fd())
}

/// `bpf(cmd, attr)`.
fn bpf(cmd: bpf_cmd, attr: &mut bpf_attr) -> std::io::Result<i64> {
    // SAFETY: `attr` is a valid, fully initialized bpf_attr of the size given; the
    // pointers it holds outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            attr as *mut bpf_attr,
            std::mem::size_of::<bpf_attr>(),
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `BPF_PROG_LOAD` as `BPF_PROG_TYPE_CGROUP_SOCK_ADDR` expecting `BPF_CGROUP_UNIX_CONNECT`;
/// on failure again with the verifier's log, which the error carries.
fn load(insns: &[bpf_insn]) -> anyhow::Result<OwnedFd> {
    let license = CString::new("Dual MIT/GPL").expect("no NUL");
    let attempt = |log: &mut [u8]| {
        // SAFETY: all-zero is a valid bpf_attr.
        let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
        // SAFETY: writing the union's prog-load member.
        let a = unsafe { &mut attr.__bindgen_anon_3 };
        a.prog_type = bpf_prog_type::BPF_PROG_TYPE_CGROUP_SOCK_ADDR as u32;
        a.expected_attach_type = bpf_attach_type::BPF_CGROUP_UNIX_CONNECT as u32;
        a.insn_cnt = insns.len() as u32;
        a.insns = insns.as_ptr() as u64;
        a.license = license.as_ptr() as u64;
        for (d, s) in a.prog_name.iter_mut().zip(b"connect_unix") {
            *d = *s as libc::c_char;
        }
        if !log.is_empty() {
            a.log_level = 1;
            a.log_size = log.len() as u32;
            a.log_buf = log.as_mut_ptr() as u64;
        }
        bpf(bpf_cmd::BPF_PROG_LOAD, &mut attr)
    };
    let fd = match attempt(&mut []) {
        Ok(fd) => fd,
        Err(first) => {
            let mut log = vec![0u8; 1 << 20];
            let _ = attempt(&mut log);
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            // The verifier's conclusion is at the end of its walk.
            let tail: Vec<&str> = text.lines().rev().take(12).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "loading cgroup/connect_unix: {first}{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("\nverifier log (end):\n{}", tail.join("\n"))
                }
            );
        }
    };
    // SAFETY: a descriptor the kernel just returned, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `BPF_LINK_CREATE` of the program on a cgroup.
fn link_create(prog: &OwnedFd, cgroup: RawFd) -> anyhow::Result<OwnedFd> {
    // SAFETY: all-zero is a valid bpf_attr.
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    // SAFETY: writing the union's link-create member.
    let l = unsafe { &mut attr.link_create };
    l.__bindgen_anon_1.prog_fd = prog.as_raw_fd() as u32;
    l.__bindgen_anon_2.target_fd = cgroup as u32;
    l.attach_type = bpf_attach_type::BPF_CGROUP_UNIX_CONNECT as u32;
    let fd = bpf(bpf_cmd::BPF_LINK_CREATE, &mut attr)?;
    // SAFETY: a descriptor the kernel just returned, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
