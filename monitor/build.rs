//! Builds the eBPF programs (`monitor-ebpf`) with aya-build and leaves the object in OUT_DIR,
//! where `src/kernel/loader.rs` embeds it.
//!
//! `AYA_BUILD_SKIP=1` skips that build (for `cargo check`/clippy on machines without the eBPF
//! toolchain) and writes an empty placeholder; the daemon then refuses to start with a clear
//! message.

use std::{env, fs, path::PathBuf};

use anyhow::{Context as _, anyhow};
use aya_build::{Package, Toolchain};

fn main() -> anyhow::Result<()> {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").context("OUT_DIR not set")?);
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "monitor-ebpf")
        .ok_or_else(|| anyhow!("monitor-ebpf package not found in the workspace"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("monitor-ebpf manifest has no parent directory"))?
        .as_str();

    let skip = env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip {
        // aya-build prints its own warning; leave a placeholder so include_bytes! works.
        let stub = out_dir.join("monitor");
        if !stub.exists() {
            fs::write(&stub, []).with_context(|| format!("writing {}", stub.display()))?;
        }
    }
    aya_build::build_ebpf(
        [Package {
            name: "monitor-ebpf",
            root_dir,
            no_default_features: false,
            features: &[],
        }],
        Toolchain::default(),
    )
}
