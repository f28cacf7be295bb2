use which::which;

/// Rebuild the eBPF programs when the linker changes (a new bpf-linker can change the
/// produced object, and cargo does not know about it otherwise).
fn main() {
    if let Ok(bpf_linker) = which("bpf-linker") {
        println!("cargo:rerun-if-changed={}", bpf_linker.display());
    }
}
