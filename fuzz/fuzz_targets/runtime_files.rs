//! Fuzzes the container runtimes' files privmon reads: any bytes as runc's `state.json`,
//! an OCI bundle's `config.json` and Docker's `config.v2.json` (split at the first two NUL
//! bytes; JSON holds none) give metadata and a posture, or none, never a panic. The files
//! are written under a root of their own, laid out as on a host.
#![no_main]

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use libfuzzer_sys::fuzz_target;

use privmon::resolve::containers::{
    metadata,
    posture::{self, Inputs},
};

const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The root, made once per fuzzing process (removed by the OS's tmp cleaning, like
/// libFuzzer's own files).
fn root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("privmon-fuzz-{}", std::process::id()));
        for dir in [
            format!("run/runc/{ID}"),
            format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{ID}"),
            format!("var/lib/docker/containers/{ID}"),
            "proc".to_string(),
        ] {
            std::fs::create_dir_all(root.join(dir)).expect("fuzz root");
        }
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0);
    let (state, config, docker) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let root = root();
    let write = |rel: String, bytes: &[u8]| std::fs::write(root.join(rel), bytes).expect("write");
    write(format!("run/runc/{ID}/state.json"), state);
    write(
        format!("run/containerd/io.containerd.runtime.v2.task/k8s.io/{ID}/config.json"),
        config,
    );
    write(format!("var/lib/docker/containers/{ID}/config.v2.json"), docker);

    let Some(meta) = metadata::lookup(root, ID) else {
        return;
    };
    let oci = meta.bundle.as_deref().and_then(|bundle| {
        // The bundle path is the host's; under this root it moves along.
        posture::read_oci_config(&root.join(bundle.strip_prefix("/").unwrap_or(bundle)))
    });
    let trusted = ["registry.example/".to_string()];
    let p = posture::assess(&Inputs {
        config: oci.as_ref(),
        // No process: the posture comes from the files alone.
        init_pid: None,
        runtime: meta.runtime,
        image: meta.image.as_deref(),
        trusted_registries: &trusted,
        proc_root: &root.join("proc"),
    });
    let _ = serde_json::to_string(&p).expect("a posture serializes");
});
