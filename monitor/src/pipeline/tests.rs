//! The output thread from raw records (no kernel): one operation, one line.

use monitor_common::{
    CapabilityRecord, ExitRecord, Hook, OP_STRING_LEN, OP_STRINGS, OperationRecord, RecordKind,
    SCOPE_HOST, VERDICT_ALLOWED, VERDICT_DENIED,
};
use serde_json::Value;

use super::Replay;
use crate::config::Config;

const CGROUP: u64 = 0x7e57_0000_0000_0002;
const PID: u32 = 4_100_000;
const MOUNT: i64 = 165;
const SETUID: i64 = 105;

fn bytes<T: Copy>(rec: &T) -> Vec<u8> {
    // SAFETY: reading the bytes of a plain-old-data (repr(C), Copy) record.
    unsafe { std::slice::from_raw_parts((rec as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

fn check(cap: u32, syscall: i64, denied: bool, boot_ns: u64, arg0: u64) -> CapabilityRecord {
    let mut comm = [0u8; 16];
    comm[..4].copy_from_slice(b"work");
    CapabilityRecord {
        kind: RecordKind::Capability as u32,
        cap,
        boot_ns,
        cgroup_id: CGROUP,
        pid: PID,
        tid: PID,
        uid: 0,
        euid: 0,
        gid: 0,
        egid: 0,
        syscall,
        args: [arg0, 0, 0, 0, 0, 0],
        cap_effective: 1 << 21,
        ret: if denied { -1 } else { 0 },
        verdict: (if denied {
            VERDICT_DENIED
        } else {
            VERDICT_ALLOWED
        }) as u8,
        scope: SCOPE_HOST,
        hook: Hook::TpBtf as u8,
        audit: 0,
        comm,
        action: 0,
        _reserved: [0; 7],
    }
}

/// A mount's CAP_SYS_ADMIN check (`arg0` tells calls apart), as the kernel side reports
/// an operation.
fn mount(boot_ns: u64, arg0: u64) -> Vec<u8> {
    let mut strings = [[0u8; OP_STRING_LEN]; OP_STRINGS];
    let mut string_lens = [0u32; OP_STRINGS];
    for (slot, s) in [&b"none"[..], b"/mnt", b"tmpfs"].iter().enumerate() {
        strings[slot][..s.len()].copy_from_slice(s);
        string_lens[slot] = s.len() as u32 + 1;
    }
    bytes(&OperationRecord {
        kind: RecordKind::Operation as u32,
        string_args: 0b111,
        string_lens,
        fd_fs_magic: 0,
        result: 0,
        deref: 0,
        fd_dev: 0,
        fd_mnt_id: 0,
        check: check(21, MOUNT, false, boot_ns, arg0),
        strings,
    })
}

fn replay() -> Replay {
    let config = Config {
        state_dir: None,
        ..Config::default()
    };
    Replay::new(&config).expect("the output stage")
}

/// The events written so far, parsed.
fn events(r: &Replay) -> Vec<Value> {
    r.recent()
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn of_kind<'a>(evs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    evs.iter().filter(|e| e["kind"] == kind).collect()
}

#[test]
fn a_call_that_checks_twice_is_one_line_listing_both_checks() {
    let mut r = replay();
    r.feed(&mount(1_000, 7)).unwrap();
    r.feed(&mount(3_000, 7)).unwrap();
    // Held until the call's checks are surely in.
    assert!(of_kind(&events(&r), "syscall").is_empty());
    r.tick();
    let evs = events(&r);
    let mounts = of_kind(&evs, "syscall");
    assert_eq!(mounts.len(), 1, "{evs:#?}");
    assert_eq!(
        mounts[0]["checks"],
        serde_json::json!([{"count": 2, "name": "CAP_SYS_ADMIN", "scope": "host", "verdict": "allowed"}])
    );
    // The line lists the checks; `capability` (the first of them) is left to the rules.
    assert!(mounts[0].get("capability").is_none(), "{:#}", mounts[0]);
    assert_eq!(mounts[0]["syscall"]["args"]["target"], "/mnt");
    assert!(of_kind(&evs, "capability").is_empty(), "{evs:#?}");
}

#[test]
fn different_calls_and_distant_identical_ones_are_lines_of_their_own() {
    let mut r = replay();
    r.feed(&mount(1_000, 7)).unwrap();
    // Another call of the thread: the first is complete.
    r.feed(&mount(2_000, 8)).unwrap();
    assert_eq!(of_kind(&events(&r), "syscall").len(), 1);
    // The same arguments, beyond the merge window: another call.
    r.feed(&mount(2_000 + super::MERGE_WINDOW_NS, 8)).unwrap();
    r.tick();
    let evs = events(&r);
    let mounts = of_kind(&evs, "syscall");
    assert_eq!(mounts.len(), 3, "{evs:#?}");
    for m in mounts {
        assert_eq!(m["checks"][0]["count"], 1, "{m:#}");
    }
}

#[test]
fn a_check_of_no_operation_is_a_capability_event_and_an_exit_writes_what_was_held() {
    let mut r = replay();
    r.feed(&mount(1_000, 7)).unwrap();
    // A plain check of another call: its own event, and the mount is complete.
    r.feed(&bytes(&check(7, SETUID, true, 2_000, 0))).unwrap();
    let evs = events(&r);
    assert_eq!(of_kind(&evs, "syscall").len(), 1, "{evs:#?}");
    let caps = of_kind(&evs, "capability");
    assert_eq!(caps.len(), 1, "{evs:#?}");
    assert_eq!(caps[0]["capability"]["name"], "CAP_SETUID");
    assert_eq!(caps[0]["capability"]["verdict"], "denied");

    // A held call is written at its process's exit, without waiting for a tick.
    r.feed(&mount(3_000, 9)).unwrap();
    r.feed(&bytes(&ExitRecord {
        kind: RecordKind::Exit as u32,
        pid: PID,
        boot_ns: 4_000,
    }))
    .unwrap();
    assert_eq!(of_kind(&events(&r), "syscall").len(), 2);
}
