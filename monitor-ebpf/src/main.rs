//! privmon kernel side.
//!
//! One module per hook family; each program is a thin entry point that extracts the hook's
//! arguments and calls a shared, fallible handler.
#![no_std]
#![no_main]

mod capability;
mod config;
mod emit;
mod fallback;
mod lifecycle;
mod lsm;
mod maps;
mod process;
mod sites;
mod sysctl;
mod task;
mod unix;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // The verifier rejects any path that could reach this; nothing here ever runs.
    loop {}
}

/// GPL-compatible: needed for bpf_probe_read_kernel and bpf_task_pt_regs.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
