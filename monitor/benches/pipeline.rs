//! User-space throughput: raw ring-buffer records through decode -> resolve (cgroup,
//! container, process) -> rules -> JSON, on one thread, as the daemon's output thread runs
//! them (`privmon::pipeline::Replay`). `cargo xtask bench` runs it and reports events/s:
//! `decode_resolve_rules` (no JSON), `decode_resolve_rules_json` (and MB/s of JSON), and
//! `decode_resolve_rules_json_500_rules` (500 more rules, most matching nothing).
//!
//! The stream is generated: a container cgroup appears, its processes exec, then they make
//! capability checks (several capabilities, some refused) and, one record in 16, a
//! sensitive operation (a mount, with its strings). That is the daemon's steady state: the
//! cgroup and the processes are known, so nothing is read from /proc or cgroupfs, and the
//! container is resolved from a runc state (with its pod's CRI annotations) laid out in a
//! scratch directory, as a production container is from the runtime's files.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use monitor_common::{
    CGROUP_PATH_LEN, CapabilityRecord, CgroupRecord, EXEC_ARGS_LEN, EXEC_FILENAME_LEN, ExecRecord,
    Hook, OP_STRING_LEN, OP_STRINGS, OperationRecord, RecordKind, SCOPE_HOST, VERDICT_ALLOWED,
    VERDICT_DENIED,
};
use privmon::{config::Config, pipeline::Replay};

/// Records per measured batch.
const BATCH: usize = 4096;
const CGROUP_ID: u64 = 0x7e57_0000_0000_0001;
const PIDS: u32 = 16;
const FIRST_PID: u32 = 4_000_000;

fn bytes<T: Copy>(rec: &T) -> Vec<u8> {
    // SAFETY: reading the bytes of a plain-old-data (repr(C), Copy) record.
    unsafe { std::slice::from_raw_parts((rec as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

fn fill<const N: usize>(text: &[u8]) -> ([u8; N], u32) {
    let mut out = [0u8; N];
    out[..text.len()].copy_from_slice(text);
    (out, text.len() as u32 + 1)
}

fn comm(name: &str) -> [u8; 16] {
    fill::<16>(name.as_bytes()).0
}

/// The records that set the scene: the container's cgroup and its processes.
fn prologue() -> Vec<Vec<u8>> {
    let path = format!(
        "kubepods/besteffort/pod7e570000-0000-4000-8000-000000000001/{}",
        "ab".repeat(32)
    );
    let (path, path_len) = fill::<CGROUP_PATH_LEN>(path.as_bytes());
    let mut out = vec![bytes(&CgroupRecord {
        kind: RecordKind::CgroupMkdir as u32,
        hierarchy: 0,
        id: CGROUP_ID,
        boot_ns: 1,
        level: 4,
        path_len,
        path,
    })];
    for i in 0..PIDS {
        let (filename, filename_len) = fill::<EXEC_FILENAME_LEN>(b"/usr/bin/worker");
        let (args, args_len) = fill::<EXEC_ARGS_LEN>(b"worker\0--serve\0--port=8080");
        out.push(bytes(&ExecRecord {
            kind: RecordKind::Exec as u32,
            pid: FIRST_PID + i,
            // The first is the container's init; the others are its children.
            ppid: if i == 0 { 0 } else { FIRST_PID },
            uid: 0,
            euid: 0,
            filename_len,
            cgroup_id: CGROUP_ID,
            boot_ns: 2,
            args_len,
            flags: 0,
            gid: 0,
            egid: 0,
            cap_permitted: 0xa804_25fb,
            cap_effective: 0xa804_25fb,
            comm: comm("worker"),
            filename,
            args,
        }));
    }
    out
}

/// The measured stream: capability checks, and now and then a mount.
fn stream() -> Vec<Vec<u8>> {
    // (capability, syscall): setuid, bind, chown, open (DAC override), setpriority.
    const CHECKS: [(u32, i64); 5] = [(7, 105), (10, 49), (0, 92), (1, 257), (23, 141)];
    (0..BATCH)
        .map(|i| {
            let (cap, syscall) = CHECKS[i % CHECKS.len()];
            let denied = i % 7 == 0;
            let check = CapabilityRecord {
                kind: RecordKind::Capability as u32,
                cap,
                boot_ns: 1_000 + i as u64,
                cgroup_id: CGROUP_ID,
                pid: FIRST_PID + (i as u32 % PIDS),
                tid: FIRST_PID + (i as u32 % PIDS),
                uid: 0,
                euid: 0,
                gid: 0,
                egid: 0,
                syscall,
                args: [0; 6],
                cap_effective: 0xa80425fb,
                ret: if denied { -1 } else { 0 },
                verdict: (if denied {
                    VERDICT_DENIED
                } else {
                    VERDICT_ALLOWED
                }) as u8,
                scope: SCOPE_HOST,
                hook: Hook::TpBtf as u8,
                audit: 0,
                comm: comm("worker"),
                action: 0,
                _reserved: [0; 7],
            };
            if i % 16 != 15 {
                return bytes(&check);
            }
            let mut strings = [[0u8; OP_STRING_LEN]; OP_STRINGS];
            let mut string_lens = [0u32; OP_STRINGS];
            for (slot, s) in [&b"none"[..], b"/mnt", b"tmpfs"].iter().enumerate() {
                (strings[slot], string_lens[slot]) = fill::<OP_STRING_LEN>(s);
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
                check: CapabilityRecord {
                    cap: 21,
                    syscall: 165,
                    // Each mount a call of its own (the same arguments this close together
                    // would be merged into one event).
                    args: [i as u64, 0, 0, 0, 0, 0],
                    ..check
                },
                strings,
            })
        })
        .collect()
}

/// A runc state for the container, under a scratch root; removed when dropped.
struct HostRoot(std::path::PathBuf);

impl HostRoot {
    fn new() -> HostRoot {
        let root = std::env::temp_dir().join(format!("privmon-bench-{}", std::process::id()));
        let state = root.join("run/runc").join("ab".repeat(32));
        std::fs::create_dir_all(&state).expect("scratch runc state directory");
        let annotations = [
            "io.kubernetes.cri.container-type=container",
            "io.kubernetes.cri.sandbox-name=api-7d9f8c6b5-x2x4z",
            "io.kubernetes.cri.sandbox-namespace=payments",
            "io.kubernetes.cri.sandbox-uid=7e570000-0000-4000-8000-000000000001",
            "io.kubernetes.cri.container-name=api",
            "io.kubernetes.cri.image-name=registry.example/payments/api:1.4.2",
        ];
        let json = format!(
            r#"{{"init_process_pid": {FIRST_PID}, "config": {{"labels": {labels:?}}}}}"#,
            labels = annotations
        );
        std::fs::write(state.join("state.json"), json).expect("writing the runc state");
        HostRoot(root)
    }
}

impl Drop for HostRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A replay of the stream's prologue, ready for the measured records.
fn replay(config: &Config, root: &HostRoot) -> Replay {
    let mut replay = Replay::new(config).expect("building the output stage");
    replay.host_root(root.0.clone());
    for rec in prologue() {
        replay.feed(&rec).expect("prologue record decodes");
    }
    // The container is announced.
    replay.tick();
    replay
}

fn measure(c: &mut Criterion, name: &str, replay: &mut Replay, records: &[Vec<u8>]) {
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(BATCH as u64));
    // Left false when a filter on the command line skips this benchmark.
    let mut ran = false;
    group.bench_function(name, |b| {
        ran = true;
        b.iter(|| {
            for rec in records {
                replay
                    .feed(black_box(rec))
                    .expect("generated record decodes");
            }
            replay.tick();
        })
    });
    group.finish();
    if !ran {
        return;
    }
    assert!(
        replay.written() >= BATCH as u64,
        "the stream produced no events"
    );
    assert_eq!(
        replay.settled_cgroups(),
        1,
        "the container was not resolved from its runc state"
    );
}

fn pipeline(c: &mut Criterion) {
    // Benchmarks must not read or write the host's advisor state.
    let config = Config {
        state_dir: None,
        ..Config::default()
    };
    let root = HostRoot::new();
    let records = stream();

    // 1. Decode, resolve, rules and the advisor; no JSON.
    let mut r = replay(&config, &root);
    r.without_serialization();
    measure(c, "decode_resolve_rules", &mut r, &records);

    // 2. The same, and each event's JSON line (shared by the sinks and the stream).
    let mut r = replay(&config, &root);
    let (events0, bytes0) = (r.written(), r.bytes());
    measure(c, "decode_resolve_rules_json", &mut r, &records);
    let mean = (r.bytes() - bytes0) as f64 / (r.written() - events0).max(1) as f64;
    // Beside criterion's own output: privmon-bench reports MB/s from it.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion/pipeline");
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("line_bytes.json"),
        format!("{{\"mean_line_bytes\": {mean:.1}}}\n"),
    );

    // 3. As 2, with 500 more rules loaded.
    let rules = root.0.join("many.yaml");
    std::fs::write(&rules, privmon::rules::generated_rules(false))
        .expect("writing the generated rules");
    let many = Config {
        rules_files: vec![rules],
        ..config.clone()
    };
    let mut r = replay(&many, &root);
    measure(c, "decode_resolve_rules_json_500_rules", &mut r, &records);
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
