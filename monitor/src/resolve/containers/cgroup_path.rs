//! Which container a cgroup path belongs to: runtime, container id and pod UID, for the
//! layouts of the systemd and cgroupfs drivers of Docker, containerd, CRI-O and Podman,
//! including nested ones (kind, k3s in Docker), where the innermost container wins.

/// A container runtime, as far as the cgroup path (or the files found later) tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    Docker,
    Containerd,
    CriO,
    Podman,
    /// Plain runc (or another OCI runtime) with no manager known to privmon.
    Runc,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Runc => "runc",
        }
    }
}

/// What a cgroup path says about the container it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupContainer {
    /// Full container id (64 hex characters).
    pub id: String,
    /// `None` when the path does not tell (cgroupfs Kubernetes layout).
    pub runtime: Option<Runtime>,
    /// Kubernetes pod UID, with dashes.
    pub pod_uid: Option<String>,
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `<prefix>-<id>` or `<prefix>-<id>.scope` for the runtimes' systemd scopes (and CRI-O's
/// cgroupfs names). conmon's own cgroups (`crio-conmon-`, `libpod-conmon-`) are not
/// containers.
fn scoped_id(component: &str) -> Option<(Runtime, &str)> {
    let base = component.strip_suffix(".scope").unwrap_or(component);
    const PREFIXES: [(&str, Runtime); 4] = [
        ("docker-", Runtime::Docker),
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::CriO),
        ("libpod-", Runtime::Podman),
    ];
    PREFIXES.iter().find_map(|(prefix, runtime)| {
        let id = base.strip_prefix(prefix)?;
        is_container_id(id).then_some((*runtime, id))
    })
}

/// Pod UID from `pod<uid>` (cgroupfs) or `...-pod<uid_with_underscores>.slice` (systemd).
fn pod_uid(component: &str) -> Option<String> {
    let raw = if let Some(slice) = component.strip_suffix(".slice") {
        let at = slice.rfind("-pod")?;
        &slice[at + 4..]
    } else {
        component.strip_prefix("pod")?
    };
    let uid = raw.replace('_', "-");
    let valid = uid.len() == 36
        && uid.bytes().enumerate().all(|(i, b)| {
            matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
        });
    valid.then_some(uid)
}

/// The innermost container a cgroup path (relative to the v2 root) belongs to, if any.
pub fn parse(path: &str) -> Option<CgroupContainer> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate().rev() {
        let parent = i.checked_sub(1).map(|p| parts[p]);
        let found = if let Some((runtime, id)) = scoped_id(part) {
            Some((Some(runtime), id))
        } else if is_container_id(part) {
            match parent {
                Some("docker") => Some((Some(Runtime::Docker), *part)),
                Some(p) if pod_uid(p).is_some() => Some((None, *part)),
                // libpod's cgroupfs layout: /libpod_parent/libpod-<id> is covered above;
                // a bare id under anything else is not recognisably a container.
                _ => None,
            }
        } else {
            None
        };
        if let Some((runtime, id)) = found {
            let pod_uid = parts[..i].iter().rev().find_map(|p| pod_uid(p));
            return Some(CgroupContainer {
                id: id.to_string(),
                runtime,
                pod_uid,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f1c5e8b9a0d4c2e7f6b1a9d8c7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e";
    const ID2: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const UID: &str = "5b1f2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
    const UID_: &str = "5b1f2c3d_4e5f_4a6b_8c7d_9e0f1a2b3c4d";

    /// Expected (id, runtime, pod UID).
    type Want = (&'static str, Option<Runtime>, Option<&'static str>);

    #[test]
    fn real_world_paths() {
        use Runtime::*;
        let cases: Vec<(String, Option<Want>)> = vec![
            // Docker, cgroupfs and systemd drivers.
            (format!("/docker/{ID}"), Some((ID, Some(Docker), None))),
            (
                format!("/system.slice/docker-{ID}.scope"),
                Some((ID, Some(Docker), None)),
            ),
            // A sub-cgroup inside a container belongs to it.
            (
                format!("/docker/{ID}/init.scope"),
                Some((ID, Some(Docker), None)),
            ),
            // containerd (CRI), systemd driver.
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope"
                ),
                Some((ID, Some(Containerd), Some(UID))),
            ),
            // Guaranteed QoS pods have no QoS slice.
            (
                format!("/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{ID}.scope"),
                Some((ID, Some(Containerd), Some(UID))),
            ),
            // containerd or CRI-O, cgroupfs driver: the path does not name the runtime.
            (
                format!("/kubepods/besteffort/pod{UID}/{ID}"),
                Some((ID, None, Some(UID))),
            ),
            (
                format!("/kubepods/burstable/pod{UID}/{ID}"),
                Some((ID, None, Some(UID))),
            ),
            (
                format!("/kubepods/pod{UID}/{ID}"),
                Some((ID, None, Some(UID))),
            ),
            // CRI-O, systemd and cgroupfs drivers; conmon is not a container.
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/crio-{ID}.scope"
                ),
                Some((ID, Some(CriO), Some(UID))),
            ),
            (
                format!("/kubepods/besteffort/pod{UID}/crio-{ID}"),
                Some((ID, Some(CriO), Some(UID))),
            ),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/crio-conmon-{ID}.scope"
                ),
                None,
            ),
            // Podman, systemd driver; conmon again.
            (
                format!("/machine.slice/libpod-{ID}.scope"),
                Some((ID, Some(Podman), None)),
            ),
            (
                format!(
                    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope/container"
                ),
                Some((ID, Some(Podman), None)),
            ),
            (format!("/machine.slice/libpod-conmon-{ID}.scope"), None),
            // kind: a Kubernetes node in a Docker container; the innermost container wins.
            (
                format!(
                    "/system.slice/docker-{ID2}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{UID_}.slice/cri-containerd-{ID}.scope"
                ),
                Some((ID, Some(Containerd), Some(UID))),
            ),
            (
                format!("/docker/{ID2}/kubepods/besteffort/pod{UID}/{ID}"),
                Some((ID, None, Some(UID))),
            ),
            // The kind node's own processes belong to the outer container.
            (
                format!("/system.slice/docker-{ID2}.scope/system.slice/containerd.service"),
                Some((ID2, Some(Docker), None)),
            ),
            // k3s (cgroupfs driver under its own root).
            (
                format!("/k3s/kubepods/besteffort/pod{UID}/{ID}"),
                Some((ID, None, Some(UID))),
            ),
            // Host cgroups and near misses.
            ("/".to_string(), None),
            ("/system.slice/containerd.service".to_string(), None),
            ("/user.slice/user-0.slice/session-1.scope".to_string(), None),
            (format!("/kubepods/besteffort/pod{UID}"), None),
            (format!("/somewhere/{ID}"), None),
            (format!("/docker/{}", &ID[..63]), None),
            (format!("/docker/{}", ID.to_uppercase()), None),
            ("/docker-notanid.scope".to_string(), None),
        ];
        for (path, want) in cases {
            let got = parse(&path);
            let want = want.map(|(id, runtime, pod)| CgroupContainer {
                id: id.to_string(),
                runtime,
                pod_uid: pod.map(str::to_string),
            });
            assert_eq!(got, want, "{path}");
        }
    }
}
