//! A container's hardening posture when it starts: from its OCI runtime config (what the
//! runtime was asked to do) and its init process's namespaces (what it shares with the host).

use std::{collections::BTreeSet, path::Path};

use serde::Deserialize;

use super::cgroup_path::Runtime;
use crate::{catalog::capabilities::Capability, resolve::procfs::Status};

pub use crate::event::{Posture, PostureCapabilities};

/// Host paths whose bind mount into a container hands it the node (exact paths, or
/// directories whose subtree counts too).
const SENSITIVE_PATHS: &[&str] = &[
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/root",
    "/boot",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/crio/crio.sock",
];

pub use crate::catalog::capabilities::{CRIO_DEFAULT_CAPS, DOCKER_DEFAULT_CAPS as DEFAULT_CAPS};

/// The parts of an OCI runtime config the posture reads.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OciConfig {
    pub process: Option<OciProcess>,
    pub root: Option<OciRoot>,
    pub mounts: Vec<OciMount>,
    pub linux: Option<OciLinux>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct OciProcess {
    pub user: Option<OciUser>,
    pub capabilities: Option<OciCapabilities>,
    pub no_new_privileges: Option<bool>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OciUser {
    pub uid: Option<u32>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OciCapabilities {
    pub effective: Option<Vec<String>>,
    pub bounding: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OciRoot {
    pub readonly: Option<bool>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OciMount {
    pub destination: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub source: Option<String>,
    pub options: Vec<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
#[serde(rename_all = "camelCase")]
pub struct OciLinux {
    pub namespaces: Vec<OciNamespace>,
    pub seccomp: Option<serde_json::Value>,
    pub devices: Vec<OciDevice>,
    pub rootfs_propagation: Option<String>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OciDevice {
    /// Where the container sees it.
    pub path: String,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OciNamespace {
    #[serde(rename = "type")]
    pub kind: String,
    pub path: Option<String>,
}

impl OciConfig {
    /// Its bind mounts of host paths, as (host source, container destination).
    pub fn binds(&self) -> impl Iterator<Item = (&str, &str)> {
        self.bind_mounts()
            .filter_map(|m| Some((m.source.as_deref()?, m.destination.as_str())))
    }

    fn bind_mounts(&self) -> impl Iterator<Item = &OciMount> {
        self.mounts.iter().filter(|m| {
            m.kind.as_deref() == Some("bind")
                || m.options.iter().any(|o| o == "bind" || o == "rbind")
        })
    }

    /// Bind mounts the container may write through (no `ro` option): (source, destination).
    pub fn writable_binds(&self) -> impl Iterator<Item = (&str, &str)> {
        self.bind_mounts()
            .filter(|m| !m.options.iter().any(|o| o == "ro"))
            .filter_map(|m| Some((m.source.as_deref()?, m.destination.as_str())))
    }

    /// The host path a path of the container's reaches through one of its bind mounts
    /// (the deepest that holds it): `/host/etc` through `/:/host` is `/etc`. `None` for a
    /// path no bind mount holds, and for a relative one.
    pub fn host_path(&self, path: &str) -> Option<String> {
        let path = path.trim_end_matches('/');
        let path = if path.is_empty() { "/" } else { path };
        if !path.starts_with('/') {
            return None;
        }
        let (source, rest) = self
            .binds()
            .filter_map(|(source, dest)| {
                let dest = dest.trim_end_matches('/');
                let rest = path.strip_prefix(dest)?;
                (rest.is_empty() || rest.starts_with('/')).then_some((source, rest))
            })
            .min_by_key(|(_, rest)| rest.len())?;
        let source = source.trim_end_matches('/');
        Some(match (source, rest) {
            ("", "") => "/".to_string(),
            _ => format!("{source}{rest}"),
        })
    }

    /// The effective capability set the config grants the container's processes (null:
    /// no set in it). Events name a process's set against it.
    pub fn granted(&self) -> Option<u64> {
        let names = self
            .process
            .as_ref()?
            .capabilities
            .as_ref()?
            .effective
            .as_ref()?;
        Some(crate::catalog::capabilities::CapSet::from_names(names).0)
    }
}

/// Reads `<bundle>/config.json`.
pub fn read_oci_config(bundle: &Path) -> Option<OciConfig> {
    let text = std::fs::read(bundle.join("config.json")).ok()?;
    serde_json::from_slice(&text).ok()
}

/// Namespace kinds as named in `/proc/<pid>/ns` and in events, with their OCI names.
pub(crate) const NAMESPACES: [(&str, &str); 7] = [
    ("pid", "pid"),
    ("net", "network"),
    ("ipc", "ipc"),
    ("uts", "uts"),
    ("user", "user"),
    ("cgroup", "cgroup"),
    ("mnt", "mount"),
];

/// Namespace inodes of the host: those of pid 1, read once (they never change). Reading
/// `/proc/1/ns` can fail transiently (seen as EACCES in sandboxed VMs); after a few tries the
/// daemon's own namespaces stand in, which are the host's when it runs as the host's
/// DaemonSet pod should (hostPID, hostNetwork, hostIPC).
pub(crate) fn host_namespace_inodes(proc_root: &Path) -> Option<Vec<u64>> {
    use std::os::unix::fs::MetadataExt;
    static CACHE: std::sync::Mutex<Option<(std::path::PathBuf, Vec<u64>)>> =
        std::sync::Mutex::new(None);
    let mut cache = CACHE.lock().ok()?;
    if let Some((root, inodes)) = cache.as_ref()
        && root == proc_root
    {
        return Some(inodes.clone());
    }
    let read = |who: &str| -> Option<Vec<u64>> {
        NAMESPACES
            .iter()
            .map(|(kind, _)| {
                std::fs::metadata(proc_root.join(who).join("ns").join(kind))
                    .ok()
                    .map(|m| m.ino())
            })
            .collect()
    };
    let inodes = (0..10)
        .find_map(|i| {
            if i > 0 {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            read("1")
        })
        .or_else(|| {
            tracing::warn!(
                "cannot read /proc/1/ns; comparing containers with privmon's own namespaces"
            );
            read("self")
        })?;
    *cache = Some((proc_root.to_path_buf(), inodes.clone()));
    Some(inodes)
}

/// Namespaces `pid` shares with the host (needs the host's pid namespace to see `pid`).
fn shared_namespaces(proc_root: &Path, pid: u32) -> Option<Vec<&'static str>> {
    use std::os::unix::fs::MetadataExt;
    let host = host_namespace_inodes(proc_root)?;
    let mut shared = Vec::new();
    for ((kind, _), host_ino) in NAMESPACES.iter().zip(host) {
        let mine = std::fs::metadata(proc_root.join(pid.to_string()).join("ns").join(kind))
            .ok()?
            .ino();
        if mine == host_ino {
            shared.push(*kind);
        }
    }
    Some(shared)
}

fn cap_names(list: &[String]) -> Vec<String> {
    let mut set = BTreeSet::new();
    for name in list {
        match Capability::from_name(name) {
            Ok(c) => {
                set.insert(c);
            }
            Err(_) => tracing::debug!(name, "unknown capability name in OCI config"),
        }
    }
    set.into_iter().map(Capability::name).collect()
}

/// The host's bounding set: what "all capabilities" means on this node.
fn host_bounding(proc_root: &Path) -> Option<Vec<String>> {
    let mask = Status::read(proc_root, 1)?.cap_bounding?;
    Some(Capability::from_mask(mask).map(Capability::name).collect())
}

fn is_sensitive(source: &str) -> bool {
    under_any(source, SENSITIVE_PATHS)
}

/// The CIS Docker Benchmark's sensitive host directories (5.6) privmon's list lacks: a
/// read-only mount of these is common (`/lib/modules` for kube-proxy) and not alerted on;
/// a writable one is.
const CIS_SENSITIVE_PATHS: &[&str] = &["/lib", "/usr"];

/// Whether `source` is one of `paths` or under one (but `/` only itself).
fn under_any(source: &str, paths: &[&str]) -> bool {
    let source = source.trim_end_matches('/');
    let source = if source.is_empty() { "/" } else { source };
    paths.iter().any(|p| {
        source == *p
            || (*p != "/" && source.starts_with(p) && source.as_bytes().get(p.len()) == Some(&b'/'))
    })
}

/// A bind mount the runtime or the kubelet makes for every container, of files that are
/// the container's own: Docker's `hostname`, `hosts`, `resolv.conf` and shareable IPC's
/// `/dev/shm` from `/var/lib/docker/containers/<id>/`, and a pod's own volumes, `etc-hosts` and
/// termination log under `/var/lib/kubelet/pods/<uid>/`. Not the host's files.
fn runtime_own(source: &str, destination: &str) -> bool {
    let under = |dir: &str| {
        source
            .strip_prefix(dir)
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(id, rest)| !id.is_empty() && !rest.is_empty() && !rest.contains(".."))
    };
    (under("/var/lib/docker/containers/")
        && matches!(
            destination,
            "/etc/hostname" | "/etc/hosts" | "/etc/resolv.conf" | "/dev/shm"
        ))
        // The host's /dev/shm of a container in the host's IPC namespace (`--ipc host`,
        // hostIPC): that namespace is what it shares (`host_namespaces: ipc`, CIS 5.17).
        || (source.trim_end_matches('/') == "/dev/shm" && destination == "/dev/shm")
        || under("/var/lib/kubelet/pods/")
}

/// What a posture is judged from.
pub struct Inputs<'a> {
    /// The container's OCI runtime config, if found.
    pub config: Option<&'a OciConfig>,
    /// Host pid of its init process, if known and alive.
    pub init_pid: Option<u32>,
    pub runtime: Option<Runtime>,
    /// The image reference, if known.
    pub image: Option<&'a str>,
    /// Image reference prefixes that count as trusted; empty means no policy (null).
    pub trusted_registries: &'a [String],
    /// Where the host's /proc is seen.
    pub proc_root: &'a Path,
}

/// What `/proc/<pid>/status` says, for containers whose OCI config was not found.
struct ProcStatus {
    effective: Vec<String>,
    bounding: Vec<String>,
    no_new_privs: bool,
    seccomp: &'static str,
    euid: Option<u32>,
}

fn proc_status(proc_root: &Path, pid: u32) -> Option<ProcStatus> {
    let st = Status::read(proc_root, pid)?;
    let caps = |mask: u64| Capability::from_mask(mask).map(Capability::name).collect();
    Some(ProcStatus {
        effective: caps(st.cap_effective?),
        bounding: caps(st.cap_bounding?),
        no_new_privs: st.no_new_privs?,
        seccomp: match st.seccomp? {
            0 => "disabled",
            1 => "strict",
            _ => "filter",
        },
        euid: st.uids.get(1).copied(),
    })
}

/// Computes the posture from the OCI config (if found), else from the init process's
/// status, and its namespaces from the init process (if alive).
pub fn assess(inputs: &Inputs) -> Posture {
    let Inputs {
        config,
        init_pid,
        runtime,
        image,
        trusted_registries,
        proc_root,
    } = *inputs;
    // Only when there is no config: what the runtime was asked for is the better source
    // (runc applies seccomp and no_new_privs only right before exec).
    let status = match config {
        None => init_pid.and_then(|pid| proc_status(proc_root, pid)),
        Some(_) => None,
    };
    let process = config.and_then(|c| c.process.as_ref());
    // A set the config leaves out is empty (the OCI runtime spec; Docker writes `{}` for
    // `--cap-drop ALL`).
    let set_of = |pick: fn(&OciCapabilities) -> Option<&Vec<String>>| {
        process.map(|p| {
            p.capabilities
                .as_ref()
                .and_then(pick)
                .map(|v| cap_names(v))
                .unwrap_or_default()
        })
    };
    let effective =
        set_of(|c| c.effective.as_ref()).or_else(|| status.as_ref().map(|s| s.effective.clone()));
    let bounding =
        set_of(|c| c.bounding.as_ref()).or_else(|| status.as_ref().map(|s| s.bounding.clone()));
    let default: &[&str] = if runtime == Some(Runtime::CriO) {
        CRIO_DEFAULT_CAPS
    } else {
        DEFAULT_CAPS
    };
    // Effective or bounding: a non-root process holds none, its bounding set the added ones.
    let added_over_default = match (&effective, &bounding) {
        (None, None) => None,
        (eff, bound) => {
            let mut added: Vec<String> = Vec::new();
            for c in eff.iter().chain(bound.iter()).flatten() {
                if !default.contains(&c.as_str()) && !added.contains(c) {
                    added.push(c.clone());
                }
            }
            Some(added)
        }
    };
    let linux = config.and_then(|c| c.linux.as_ref());
    let seccomp = config
        .map(|_| {
            if linux
                .and_then(|l| l.seccomp.as_ref())
                .is_some_and(|s| !s.is_null())
            {
                "filter"
            } else {
                "disabled"
            }
        })
        .or_else(|| status.as_ref().map(|s| s.seccomp));
    let host_namespaces = init_pid
        .and_then(|pid| shared_namespaces(proc_root, pid))
        .or_else(|| {
            // Without a live process: a namespace the config does not ask for, or joins by
            // path to pid 1, is the host's.
            let l = linux?;
            Some(
                NAMESPACES
                    .iter()
                    .filter(|(_, oci)| {
                        !l.namespaces.iter().any(|n| {
                            n.kind == *oci
                                && !n.path.as_deref().is_some_and(|p| p.starts_with("/proc/1/"))
                        })
                    })
                    .map(|(kind, _)| *kind)
                    .collect(),
            )
        });
    let sensitive_mounts = config.map(|c| {
        let mut found: Vec<String> = c
            .binds()
            .filter(|(s, d)| is_sensitive(s) && !runtime_own(s, d))
            .map(|(s, _)| s)
            .map(str::to_string)
            .collect();
        found.sort();
        found.dedup();
        found
    });
    // CIS Docker 5.6: the same, and the benchmark's own list, mounted read-write.
    let writable_sensitive_mounts = config.map(|c| {
        let mut found: Vec<String> = c
            .writable_binds()
            .filter(|(s, d)| {
                (is_sensitive(s) || under_any(s, CIS_SENSITIVE_PATHS)) && !runtime_own(s, d)
            })
            .map(|(s, _)| s.to_string())
            .collect();
        found.sort();
        found.dedup();
        found
    });
    // CIS Docker 5.18: host devices exposed (the runtime's default devices are not in the
    // config's list; `--device` and `--privileged` put theirs there).
    let host_devices = config.map(|c| {
        let mut paths: Vec<String> = c
            .linux
            .iter()
            .flat_map(|l| &l.devices)
            .map(|d| d.path.clone())
            .collect();
        paths.sort();
        paths.dedup();
        if paths.len() > Posture::DEVICES_LISTED {
            let more = paths.len() - Posture::DEVICES_LISTED;
            paths.truncate(Posture::DEVICES_LISTED);
            paths.push(format!("({more} more)"));
        }
        paths
    });
    // CIS Docker 5.20: mount propagation shared with the host.
    let shared_propagation = config.map(|c| {
        let shared = |o: &str| o == "shared" || o == "rshared";
        let mut found: Vec<String> = c
            .linux
            .as_ref()
            .and_then(|l| l.rootfs_propagation.as_deref())
            .filter(|p| shared(p))
            .map(|_| "/".to_string())
            .into_iter()
            .chain(
                c.mounts
                    .iter()
                    .filter(|m| m.options.iter().any(|o| shared(o)))
                    .map(|m| m.destination.clone()),
            )
            .collect();
        found.sort();
        found.dedup();
        found
    });
    let privileged = match (&effective, host_bounding(proc_root), seccomp) {
        (Some(eff), Some(host), Some(sec)) => {
            Some(host.iter().all(|c| eff.contains(c)) && sec == "disabled")
        }
        _ => None,
    };
    Posture {
        privileged,
        capabilities: PostureCapabilities {
            effective,
            bounding,
            added_over_default,
        },
        host_devices,
        host_namespaces,
        sensitive_mounts,
        writable_sensitive_mounts,
        shared_propagation,
        runs_as_root: process
            .and_then(|p| p.user.as_ref())
            .map(|u| u.uid.unwrap_or(0) == 0)
            .or_else(|| status.as_ref().and_then(|s| s.euid).map(|uid| uid == 0)),
        no_new_privs: process
            .map(|p| p.no_new_privileges.unwrap_or(false))
            .or_else(|| status.as_ref().map(|s| s.no_new_privs)),
        seccomp,
        readonly_rootfs: config.map(|c| c.root.as_ref().and_then(|r| r.readonly).unwrap_or(false)),
        image_pinned: image.map(|i| i.contains("@sha256:")),
        image_trusted: match (image, trusted_registries.is_empty()) {
            (Some(image), false) => Some(
                trusted_registries
                    .iter()
                    .any(|prefix| image.starts_with(prefix.as_str())),
            ),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> OciConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn restricted_container() {
        let c = config(
            r#"{"process":{"user":{"uid":1000},"noNewPrivileges":true,
                "capabilities":{"effective":[],"bounding":[]}},
                "root":{"path":"rootfs","readonly":true},
                "mounts":[{"destination":"/proc","type":"proc","source":"proc"}],
                "linux":{"namespaces":[{"type":"pid"},{"type":"network"},{"type":"ipc"},
                    {"type":"uts"},{"type":"mount"},{"type":"cgroup"},{"type":"user"}],
                    "seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}}}"#,
        );
        let p = assess(&Inputs {
            config: Some(&c),
            init_pid: None,
            runtime: Some(Runtime::Containerd),
            image: Some("registry.example/team/app:1"),
            trusted_registries: &["registry.example/".to_string()],
            proc_root: Path::new("/proc"),
        });
        assert_eq!(p.privileged, Some(false));
        assert_eq!(p.capabilities.effective, Some(vec![]));
        assert_eq!(p.capabilities.added_over_default, Some(vec![]));
        assert_eq!(p.host_namespaces, Some(vec![]));
        assert_eq!(p.sensitive_mounts, Some(vec![]));
        assert_eq!(p.host_devices, Some(vec![]));
        assert_eq!(p.shared_propagation, Some(vec![]));
        assert_eq!(p.runs_as_root, Some(false));
        assert_eq!(p.no_new_privs, Some(true));
        assert_eq!(p.seccomp, Some("filter"));
        assert_eq!(p.readonly_rootfs, Some(true));
        assert_eq!(p.image_trusted, Some(true));
    }

    #[test]
    fn paths_through_bind_mounts_name_the_hosts() {
        let c = config(
            r#"{"mounts":[{"destination":"/host","source":"/","options":["rbind","rw"]},
                {"destination":"/host/data","type":"bind","source":"/srv/data"},
                {"destination":"/proc","type":"proc","source":"proc"},
                {"destination":"/hostile/","type":"bind","source":"/var/x/"}]}"#,
        );
        assert_eq!(c.host_path("/host").as_deref(), Some("/"));
        assert_eq!(c.host_path("/host/").as_deref(), Some("/"));
        assert_eq!(c.host_path("/host/etc").as_deref(), Some("/etc"));
        // The deepest mount holds it.
        assert_eq!(
            c.host_path("/host/data/db").as_deref(),
            Some("/srv/data/db")
        );
        assert_eq!(c.host_path("/hostile").as_deref(), Some("/var/x"));
        // A prefix of a name is no parent; other mounts, relative paths: none.
        assert_eq!(c.host_path("/hostx"), None);
        assert_eq!(c.host_path("/proc/1"), None);
        assert_eq!(c.host_path("host"), None);
        assert_eq!(c.host_path("/"), None);
    }

    #[test]
    fn dangerous_container() {
        let c = config(
            r#"{"process":{"user":{"uid":0},
                "capabilities":{"effective":["CAP_SYS_ADMIN","CAP_CHOWN","sys_ptrace"],"bounding":["CAP_SYS_ADMIN"]}},
                "mounts":[{"destination":"/var/run/docker.sock","type":"bind","source":"/var/run/docker.sock"},
                    {"destination":"/host","source":"/","options":["rbind","rw"]},
                    {"destination":"/kubelet","type":"bind","source":"/var/lib/kubelet/pods/x"},
                    {"destination":"/data","type":"bind","source":"/srv/data"},
                    {"destination":"/etcetera","type":"bind","source":"/etcetera"},
                    {"destination":"/hostetc","type":"bind","source":"/etc","options":["rbind","ro"]},
                    {"destination":"/hostusr","type":"bind","source":"/usr/local","options":["rbind","rw"]},
                    {"destination":"/modules","type":"bind","source":"/lib/modules","options":["rbind","ro"]},
                    {"destination":"/shared","type":"bind","source":"/srv/shared","options":["rbind","rshared"]},
                    {"destination":"/slave","type":"bind","source":"/srv/slave","options":["rbind","rslave"]}],
                "linux":{"namespaces":[{"type":"mount"},{"type":"network","path":"/proc/1/ns/net"}],
                    "devices":[{"path":"/dev/sda","type":"b","major":8,"minor":0},{"path":"/dev/kmsg","type":"c"}],
                    "rootfsPropagation":"rshared"}}"#,
        );
        let p = assess(&Inputs {
            config: Some(&c),
            init_pid: None,
            runtime: None,
            image: Some("docker.io/library/busybox"),
            trusted_registries: &["registry.example/".to_string()],
            proc_root: Path::new("/nonexistent"),
        });
        assert_eq!(p.image_trusted, Some(false));
        assert_eq!(
            p.capabilities.added_over_default,
            Some(vec![
                "CAP_SYS_PTRACE".to_string(),
                "CAP_SYS_ADMIN".to_string()
            ])
        );
        assert_eq!(
            p.sensitive_mounts,
            Some(vec![
                "/".to_string(),
                "/etc".to_string(),
                "/var/lib/kubelet/pods/x".to_string(),
                "/var/run/docker.sock".to_string()
            ])
        );
        // CIS 5.6: the read-write ones, the benchmark's /usr too; /etc and /lib/modules are
        // read-only.
        assert_eq!(
            p.writable_sensitive_mounts,
            Some(vec![
                "/".to_string(),
                "/usr/local".to_string(),
                "/var/lib/kubelet/pods/x".to_string(),
                "/var/run/docker.sock".to_string()
            ])
        );
        assert_eq!(
            p.host_namespaces,
            Some(vec!["pid", "net", "ipc", "uts", "user", "cgroup"])
        );
        assert_eq!(
            p.host_devices,
            Some(vec!["/dev/kmsg".to_string(), "/dev/sda".to_string()])
        );
        assert_eq!(
            p.shared_propagation,
            Some(vec!["/".to_string(), "/shared".to_string()])
        );
        assert_eq!(p.runs_as_root, Some(true));
        assert_eq!(p.no_new_privs, Some(false));
        assert_eq!(p.seccomp, Some("disabled"));
        assert_eq!(p.readonly_rootfs, Some(false));
        // No host bounding set to compare with under a missing /proc.
        assert_eq!(p.privileged, None);
    }

    #[test]
    fn a_privileged_containers_devices_are_listed_up_to_a_bound() {
        let devices: Vec<String> = (0..40)
            .map(|i| format!(r#"{{"path":"/dev/tty{i:02}","type":"c"}}"#))
            .collect();
        let c = config(&format!(
            r#"{{"linux":{{"devices":[{}]}}}}"#,
            devices.join(",")
        ));
        let p = assess(&Inputs {
            config: Some(&c),
            init_pid: None,
            runtime: None,
            image: None,
            trusted_registries: &[],
            proc_root: Path::new("/nonexistent"),
        });
        let listed = p.host_devices.unwrap();
        assert_eq!(listed.len(), Posture::DEVICES_LISTED + 1);
        assert_eq!(listed[0], "/dev/tty00");
        assert_eq!(listed[Posture::DEVICES_LISTED], "(8 more)");
        assert_eq!(p.shared_propagation, Some(vec![]));
    }

    #[test]
    fn nothing_known_is_all_null() {
        let p = assess(&Inputs {
            config: None,
            init_pid: None,
            runtime: None,
            image: Some("x"),
            trusted_registries: &[],
            proc_root: Path::new("/nonexistent"),
        });
        // The image is known: by a tag (here none), not pinned.
        assert_eq!(
            p,
            Posture {
                image_pinned: Some(false),
                ..Posture::default()
            }
        );
    }

    #[test]
    fn a_config_without_capabilities_grants_none() {
        // docker run --cap-drop ALL writes `"capabilities": {}`.
        let c = config(r#"{"process":{"user":{"uid":1000},"capabilities":{}}}"#);
        let p = assess(&Inputs {
            config: Some(&c),
            init_pid: None,
            runtime: Some(Runtime::Docker),
            image: None,
            trusted_registries: &[],
            proc_root: Path::new("/nonexistent"),
        });
        assert_eq!(p.capabilities.effective, Some(vec![]));
        assert_eq!(p.capabilities.bounding, Some(vec![]));
        assert_eq!(p.capabilities.added_over_default, Some(vec![]));
    }

    #[test]
    fn a_user_containers_added_capabilities_are_in_its_bounding_set() {
        // docker run --user 1000 --cap-add SYS_ADMIN: no effective set at all.
        let c = config(
            r#"{"process":{"user":{"uid":1000},
                "capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN","CAP_KILL"]}}}"#,
        );
        let p = assess(&Inputs {
            config: Some(&c),
            init_pid: None,
            runtime: Some(Runtime::Docker),
            image: Some("registry.example/app@sha256:00ff"),
            trusted_registries: &[],
            proc_root: Path::new("/nonexistent"),
        });
        assert_eq!(p.capabilities.effective, Some(vec![]));
        assert_eq!(
            p.capabilities.added_over_default,
            Some(vec!["CAP_SYS_ADMIN".to_string()])
        );
        assert_eq!(p.runs_as_root, Some(false));
        assert_eq!(p.image_pinned, Some(true));
    }

    #[test]
    fn without_a_config_the_init_process_speaks() {
        // This test process stands in for a container's init.
        let p = assess(&Inputs {
            config: None,
            init_pid: Some(std::process::id()),
            runtime: None,
            image: None,
            trusted_registries: &[],
            proc_root: Path::new("/proc"),
        });
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let nnp = status.lines().any(|l| l == "NoNewPrivs:\t1");
        assert_eq!(p.no_new_privs, Some(nnp));
        assert!(p.seccomp.is_some());
        assert!(p.capabilities.effective.is_some());
        // SAFETY: geteuid has no preconditions.
        assert_eq!(p.runs_as_root, Some(unsafe { libc::geteuid() } == 0));
        assert_eq!(p.sensitive_mounts, None);
    }

    #[test]
    fn the_runtimes_own_files_are_no_sensitive_mount() {
        let docker = "/var/lib/docker/containers/c2bcce3ff1cc8b5d84a871b8752663602624bea9";
        assert!(runtime_own(&format!("{docker}/hostname"), "/etc/hostname"));
        assert!(runtime_own(
            &format!("{docker}/resolv.conf"),
            "/etc/resolv.conf"
        ));
        // The same directory elsewhere in the container, or the whole of it, is the host's.
        assert!(!runtime_own(&format!("{docker}/hostname"), "/mnt/hostname"));
        assert!(!runtime_own("/var/lib/docker/containers/", "/etc/hosts"));
        assert!(!runtime_own(
            &format!("{docker}/../../image/x"),
            "/etc/hosts"
        ));
        let pod = "/var/lib/kubelet/pods/8d1b3c2e-6a43-4c2d-9f0e-2a8c6b1e4d11";
        assert!(runtime_own(&format!("{pod}/etc-hosts"), "/etc/hosts"));
        assert!(runtime_own(
            &format!("{pod}/volumes/kubernetes.io~projected/kube-api-access-x"),
            "/var/run/secrets/kubernetes.io/serviceaccount"
        ));
        assert!(!runtime_own("/var/lib/kubelet/pods/", "/x"));
        assert!(!runtime_own("/var/lib/kubelet", "/var/lib/kubelet"));
        assert!(!runtime_own("/etc", "/etc/hosts"));
        // --ipc host: the namespace shared, not a mount to report.
        assert!(runtime_own("/dev/shm", "/dev/shm"));
        assert!(!runtime_own("/dev/shm", "/mnt/shm"));
        assert!(runtime_own(&format!("{docker}/mounts/shm"), "/dev/shm"));
    }
}
