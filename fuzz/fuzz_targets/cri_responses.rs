//! Fuzzes what privmon makes of a container runtime's CRI answers: any bytes as the
//! `ListContainers`, `ContainerStatus` and `PodSandboxStatus` responses (protobuf, split at
//! the first two `0xff 0xfe` pairs) decode to messages or an error, and what decoded gives
//! a container's details, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;

use privmon::resolve::cri::{CriInfo, add_sandbox, api, container_info};

fn parts(data: &[u8]) -> [&[u8]; 3] {
    let mut out = [&data[..0]; 3];
    let mut rest = data;
    for slot in out.iter_mut().take(2) {
        match rest.windows(2).position(|w| w == [0xff, 0xfe]) {
            Some(at) => {
                *slot = &rest[..at];
                rest = &rest[at + 2..];
            }
            None => {
                *slot = rest;
                rest = &rest[rest.len()..];
            }
        }
    }
    out[2] = rest;
    out
}

fuzz_target!(|data: &[u8]| {
    let [listed, status, sandbox] = parts(data);
    let mut info = match (
        api::ListContainersResponse::decode(listed),
        api::ContainerStatusResponse::decode(status),
    ) {
        (Ok(listed), Ok(status)) => match listed.containers.into_iter().next() {
            Some(c) => container_info(c, status),
            None => CriInfo::default(),
        },
        _ => CriInfo::default(),
    };
    if let Ok(s) = api::PodSandboxStatusResponse::decode(sandbox) {
        add_sandbox(&mut info, s.status.unwrap_or_default());
    }
    assert!(info.pod_labels.keys().all(|k| !k.starts_with("io.kubernetes.")));
});
