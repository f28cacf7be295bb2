//! `cgroup/connect_unix` on the cgroup v2 root (Linux 6.7+): a `connect()` of a unix socket
//! from a watched cgroup to an address whose last component is a container runtime's socket
//! name (`docker.sock`, `containerd.sock`, ..., [`RUNTIME_SOCKETS`]), the way to start a
//! privileged sibling container from a container that mounts the socket. Zero tax: the
//! kernel runs it for unix-socket connects only (io_uring's `IORING_OP_CONNECT` included),
//! before it looks the address up, and it always lets the connect through.
//!
//! Before 6.7, where BPF trampolines load, an fentry program on
//! `security_unix_stream_connect` sees the same connects once the kernel has found the
//! listener, and reports the listener's bound address.
//!
//! aya 0.14 has no attach type for `cgroup/connect_unix`: the program sits in a `cgroup/connect4` section so
//! that aya parses it, and the daemon loads it itself with `BPF_CGROUP_UNIX_CONNECT`
//! (monitor's `kernel::unix_connect`).

use core::ffi::c_void;

use aya_ebpf::{
    helpers::{
        bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid,
        bpf_ktime_get_boot_ns, bpf_probe_read_kernel as bpf_probe_read_kernel_typed,
        generated::{bpf_get_current_uid_gid, bpf_probe_read_kernel},
    },
    macros::{cgroup_sock_addr, fentry},
    programs::{FEntryContext, SockAddrContext},
};
use monitor_common::{
    COMM_LEN, FNV_OFFSET, FNV_PRIME, KernelLayout, RecordKind, UNIX_PATH_LEN, UnixConnectRecord,
    config_flags, drop_slot, unix_flags,
};

use crate::maps::{EVENTS, HOST_CGROUPS, RINGBUF_DROPS, RUNTIME_SOCKETS, bump, watched};

/// Let the connect through.
const ALLOW: i32 = 1;

/// The head of the kernel's `struct bpf_sock_addr_kern`, which the program's context stands
/// for (Linux 6.7+ layout; the daemon checks it against the kernel's BTF before loading).
#[repr(C)]
struct SockAddrKern {
    sk: u64,
    /// The kernel's copy of the address (a `sockaddr_storage`).
    uaddr: u64,
    tmp_reg: u64,
    t_ctx: u64,
    uaddrlen: u32,
    _pad: u32,
}

#[cgroup_sock_addr(connect4)]
pub fn connect_unix(ctx: SockAddrContext) -> i32 {
    on_connect(&ctx);
    ALLOW
}

#[inline(always)]
fn on_connect(ctx: &SockAddrContext) {
    let Some(cfg) = crate::config::config() else {
        return;
    };
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    // SAFETY (get): the value is only tested for presence.
    if cfg.flags & config_flags::CONTAINERS_ONLY != 0
        && unsafe { HOST_CGROUPS.get(cgroup_id) }.is_some()
    {
        return;
    }
    let mut kern = SockAddrKern {
        sk: 0,
        uaddr: 0,
        tmp_reg: 0,
        t_ctx: 0,
        uaddrlen: 0,
        _pad: 0,
    };
    let mut path = [0u8; UNIX_PATH_LEN + 4];
    // SAFETY: reads of kernel memory into locals of the sizes given; the context pointer
    // is the kernel's `bpf_sock_addr_kern`, its `uaddr` a `sockaddr_storage`.
    unsafe {
        if bpf_probe_read_kernel(
            (&raw mut kern).cast::<c_void>(),
            core::mem::size_of::<SockAddrKern>() as u32,
            ctx.sock_addr as *const c_void,
        ) != 0
            || bpf_probe_read_kernel(
                path.as_mut_ptr().cast::<c_void>(),
                UNIX_PATH_LEN as u32,
                (kern.uaddr + 2) as *const c_void,
            ) != 0
        {
            return;
        }
    }
    // sun_path's bytes: the address length less sun_family.
    report(cfg.self_tgid, cgroup_id, &path, kern.uaddrlen as usize, 0);
}

/// match-proto: v2.6.27: include/linux/security.h: int security_unix_stream_connect(
/// struct sock *sock, struct sock *other, struct sock *newsk)
/// The same connects on kernels without `cgroup/connect_unix` (before 6.7) where BPF
/// trampolines load: after the kernel found the listener (`other`), whose bound address
/// (the host's path of the runtime's socket) is reported ([`unix_flags::PEER`]).
#[fentry(function = "security_unix_stream_connect")]
pub fn unix_stream_connect_fentry(ctx: FEntryContext) -> i32 {
    let other: u64 = ctx.arg(1);
    let Some(cfg) = crate::config::config() else {
        return 0;
    };
    // SAFETY: plain helper call.
    let cgroup_id = unsafe { bpf_get_current_cgroup_id() };
    if !watched(cfg, cgroup_id) {
        return 0;
    }
    let layout = &cfg.layout;
    if layout.unix_sock_addr == KernelLayout::MISSING
        || layout.unix_address_len == KernelLayout::MISSING
        || layout.unix_address_name == KernelLayout::MISSING
    {
        return 0;
    }
    let mut path = [0u8; UNIX_PATH_LEN + 4];
    // SAFETY: reads of kernel memory at offsets from BTF; a failed read ends here.
    let len = unsafe {
        let Ok(addr) =
            bpf_probe_read_kernel_typed((other + layout.unix_sock_addr as u64) as *const u64)
        else {
            return 0;
        };
        // An unbound listener has no address.
        if addr == 0 {
            return 0;
        }
        let Ok(len) =
            bpf_probe_read_kernel_typed((addr + layout.unix_address_len as u64) as *const i32)
        else {
            return 0;
        };
        if bpf_probe_read_kernel(
            path.as_mut_ptr().cast::<c_void>(),
            UNIX_PATH_LEN as u32,
            (addr + layout.unix_address_name as u64 + 2) as *const c_void,
        ) != 0
        {
            return 0;
        }
        len
    };
    report(
        cfg.self_tgid,
        cgroup_id,
        &path,
        len.max(0) as usize,
        unix_flags::PEER,
    );
    0
}

/// Reports an address (`addr_len`: its length with the 2-byte family) whose last component
/// is a runtime socket's name, unless the daemon itself (`self_tgid`) connects. The caller
/// is named only then: helper calls are what the program costs, and most connects are to
/// other sockets.
#[inline(always)]
fn report(
    self_tgid: u32,
    cgroup_id: u64,
    path: &[u8; UNIX_PATH_LEN + 4],
    addr_len: usize,
    flags: u32,
) {
    let len = addr_len.saturating_sub(2).min(UNIX_PATH_LEN);
    // An abstract name starts with a NUL and may hold more; a path ends at its NUL.
    let abstract_name = path[0] == 0;
    let mut h = FNV_OFFSET;
    let mut i = usize::from(abstract_name);
    while i < UNIX_PATH_LEN && i < len {
        let c = path[i];
        if c == 0 && !abstract_name {
            break;
        }
        h = if c == b'/' {
            FNV_OFFSET
        } else {
            (h ^ c as u32).wrapping_mul(FNV_PRIME)
        };
        i += 1;
    }
    // SAFETY (get): the value is only tested for presence.
    if unsafe { RUNTIME_SOCKETS.get(h) }.is_none() {
        return;
    }
    let pid_tgid = bpf_get_current_pid_tgid();
    if (pid_tgid >> 32) as u32 == self_tgid {
        return;
    }
    let Some(mut entry) = EVENTS.reserve::<UnixConnectRecord>(0) else {
        bump(&RINGBUF_DROPS, drop_slot::UNIX_CONNECT);
        return;
    };
    let rec = entry.as_mut_ptr();
    // SAFETY: `rec` points to reserved ring-buffer memory of the right size; every field is
    // written before submit.
    unsafe {
        (*rec).kind = RecordKind::UnixConnect as u32;
        (*rec).pid = (pid_tgid >> 32) as u32;
        (*rec).tid = pid_tgid as u32;
        (*rec).uid = bpf_get_current_uid_gid() as u32;
        (*rec).cgroup_id = cgroup_id;
        (*rec).boot_ns = bpf_ktime_get_boot_ns();
        (*rec).comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
        (*rec).path_len = len as u32;
        (*rec).flags = flags
            | if abstract_name {
                unix_flags::ABSTRACT
            } else {
                0
            };
        (*rec).path = *path;
    }
    entry.submit(0);
}
