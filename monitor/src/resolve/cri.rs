//! Pod and container metadata from the Kubernetes Container Runtime Interface (CRI,
//! `runtime.v1`) of containerd or CRI-O: what the runtime's files on the host do not say,
//! namely the pod's labels and the image's digest (Kubernetes' `imageID`), and the pod of a
//! container whose OCI bundle carries no Kubernetes annotations.
//!
//! The pipeline never waits on the runtime. [`Cri::answer`] reads a table that a task on
//! the daemon's tokio runtime fills, one container at a time, every call bounded by a
//! timeout; the output thread announces a container once its answer is in (or its start
//! patience ran out) and reports it with the OCI state's metadata meanwhile. A runtime
//! that does not answer costs one timeout per container, is asked again after
//! [`RETRY_AFTER`], and is counted in `privmon_cri_lookups_total{result}`.
//!
//! The messages below are the subset of `k8s.io/cri-api/pkg/apis/runtime/v1/api.proto`
//! that privmon reads, with that file's field numbers; fields left out are skipped when
//! decoding, as protobuf allows. Hand-written rather than generated: no protoc at build
//! time, and a few dozen lines instead of the whole API.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use anyhow::Context as _;
use hyper_util::rt::TokioIo;
use tokio::{net::UnixStream, sync::mpsc};
use tonic::{
    Code, Status,
    codegen::http::uri::PathAndQuery,
    transport::{Channel, Endpoint, Uri},
};
use tracing::{info, warn};

/// CRI sockets tried, in order, when the configuration names none.
pub const WELL_KNOWN_SOCKETS: &[&str] = &[
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/k3s/containerd/containerd.sock",
];

/// A container whose lookup failed (no answer, socket down) is asked about again after this.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Lookups waiting for the CRI task; beyond it a lookup is dropped (counted) and retried.
const QUEUE: usize = 1024;

/// Answers remembered; beyond it the table starts over (answers are asked for again).
const MAX_ANSWERS: usize = 16_384;

/// A container the runtime does not know yet is asked about again this many times, this
/// far apart: the privmon sees a pod sandbox's cgroup before RunPodSandbox has registered
/// it (and a container's before a slow runtime has).
const NOT_FOUND_RETRIES: u32 = 8;
const NOT_FOUND_RETRY_AFTER: Duration = Duration::from_millis(250);

/// The subset of the CRI `runtime.v1` messages privmon uses (field numbers from api.proto).
pub mod api {
    use std::collections::HashMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionRequest {
        #[prost(string, tag = "1")]
        pub version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct VersionResponse {
        #[prost(string, tag = "1")]
        pub version: String,
        #[prost(string, tag = "2")]
        pub runtime_name: String,
        #[prost(string, tag = "3")]
        pub runtime_version: String,
        #[prost(string, tag = "4")]
        pub runtime_api_version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerFilter {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "3")]
        pub pod_sandbox_id: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContainersRequest {
        #[prost(message, optional, tag = "1")]
        pub filter: Option<ContainerFilter>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListContainersResponse {
        #[prost(message, repeated, tag = "1")]
        pub containers: Vec<Container>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(uint32, tag = "2")]
        pub attempt: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ImageSpec {
        #[prost(string, tag = "1")]
        pub image: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Container {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(string, tag = "2")]
        pub pod_sandbox_id: String,
        #[prost(message, optional, tag = "3")]
        pub metadata: Option<ContainerMetadata>,
        #[prost(message, optional, tag = "4")]
        pub image: Option<ImageSpec>,
        #[prost(string, tag = "5")]
        pub image_ref: String,
        #[prost(map = "string, string", tag = "8")]
        pub labels: HashMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusRequest {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(bool, tag = "2")]
        pub verbose: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<ContainerStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatus {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub metadata: Option<ContainerMetadata>,
        #[prost(message, optional, tag = "8")]
        pub image: Option<ImageSpec>,
        /// The image as Kubernetes reports it in `imageID`: a repository digest
        /// (`name@sha256:…`) when the runtime has one, else the image id.
        #[prost(string, tag = "9")]
        pub image_ref: String,
        #[prost(map = "string, string", tag = "12")]
        pub labels: HashMap<String, String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatusRequest {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
        #[prost(bool, tag = "2")]
        pub verbose: bool,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<PodSandboxStatus>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub uid: String,
        #[prost(string, tag = "3")]
        pub namespace: String,
        #[prost(uint32, tag = "4")]
        pub attempt: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxStatus {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub metadata: Option<PodSandboxMetadata>,
        #[prost(map = "string, string", tag = "7")]
        pub labels: HashMap<String, String>,
    }
}

/// `/runtime.v1.RuntimeService/<method>`.
pub fn runtime_method(method: &str) -> String {
    format!("/runtime.v1.RuntimeService/{method}")
}

/// A CRI client over a Unix socket; every call is bounded by the timeout.
#[derive(Clone)]
pub struct Client {
    grpc: tonic::client::Grpc<Channel>,
    timeout: Duration,
}

impl Client {
    /// A client for `socket`. Connects lazily (and again after the runtime restarts): a
    /// socket that is not there yet fails the calls, not this. Call it within a tokio
    /// runtime (the channel's worker is spawned on it).
    pub fn new(socket: &Path, timeout: Duration) -> anyhow::Result<Client> {
        let socket = socket.to_path_buf();
        // The URI is required and unused: the connector below dials the socket. The
        // timeout is [`Client::call`]'s, around connecting and the call alike.
        let channel =
            Endpoint::try_from("http://cri.invalid")?.connect_with_connector_lazy(
                tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?))
                    }
                }),
            );
        Ok(Client {
            grpc: tonic::client::Grpc::new(channel),
            timeout,
        })
    }

    /// One unary call: `path` is the method's full name (see [`runtime_method`]).
    pub async fn call<Req, Resp>(&mut self, path: &str, request: Req) -> Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        let path = PathAndQuery::try_from(path)
            .map_err(|e| Status::invalid_argument(format!("method path {path}: {e}")))?;
        let timeout = self.timeout;
        let grpc = &mut self.grpc;
        let call = async {
            grpc.ready()
                .await
                .map_err(|e| Status::unavailable(format!("connecting: {e}")))?;
            grpc.unary(
                tonic::Request::new(request),
                path,
                tonic_prost::ProstCodec::default(),
            )
            .await
            .map(tonic::Response::into_inner)
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    pub async fn version(&mut self) -> Result<api::VersionResponse, Status> {
        let request = api::VersionRequest {
            version: "v1".into(),
        };
        self.call(&runtime_method("Version"), request).await
    }

    /// What the runtime says about container (or pod sandbox) `id`; `None` if it does not
    /// know it (a container not made through the CRI, e.g. plain runc or Docker).
    pub async fn describe(&mut self, id: &str) -> Result<Option<CriInfo>, Status> {
        let listed: api::ListContainersResponse = self
            .call(
                &runtime_method("ListContainers"),
                api::ListContainersRequest {
                    filter: Some(api::ContainerFilter {
                        id: id.to_string(),
                        ..Default::default()
                    }),
                },
            )
            .await?;
        let (sandbox_id, mut info) = match listed.containers.into_iter().find(|c| c.id == id) {
            Some(c) => {
                let status: api::ContainerStatusResponse = match self
                    .call(
                        &runtime_method("ContainerStatus"),
                        api::ContainerStatusRequest {
                            container_id: id.to_string(),
                            verbose: false,
                        },
                    )
                    .await
                {
                    // Removed between the two calls.
                    Err(s) if s.code() == Code::NotFound => return Ok(None),
                    other => other?,
                };
                (c.pod_sandbox_id.clone(), container_info(c, status))
            }
            // Not a container: a pod sandbox (its pause container) has the pod's id.
            None => (id.to_string(), CriInfo::default()),
        };
        let sandbox = self
            .call::<_, api::PodSandboxStatusResponse>(
                &runtime_method("PodSandboxStatus"),
                api::PodSandboxStatusRequest {
                    pod_sandbox_id: sandbox_id,
                    verbose: false,
                },
            )
            .await;
        let sandbox = match sandbox {
            Ok(s) => s.status.unwrap_or_default(),
            Err(s) if s.code() == Code::NotFound && info == CriInfo::default() => {
                return Ok(None);
            }
            Err(s) if s.code() == Code::NotFound => api::PodSandboxStatus::default(),
            Err(s) => return Err(s),
        };
        add_sandbox(&mut info, sandbox);
        Ok(Some(info))
    }
}

/// What a container's entry in `ListContainers` and its `ContainerStatus` say (the status
/// first: it is the newer).
pub fn container_info(c: api::Container, status: api::ContainerStatusResponse) -> CriInfo {
    let status = status.status.unwrap_or_default();
    CriInfo {
        container_name: status
            .metadata
            .or(c.metadata)
            .map(|m| m.name)
            .filter(|n| !n.is_empty()),
        image: status
            .image
            .or(c.image)
            .map(|i| i.image)
            .filter(|i| !i.is_empty()),
        image_id: Some(status.image_ref)
            .filter(|r| !r.is_empty())
            .or(Some(c.image_ref).filter(|r| !r.is_empty())),
        ..CriInfo::default()
    }
}

/// Adds what the pod sandbox's status says: the pod's name, namespace, uid and labels.
pub fn add_sandbox(info: &mut CriInfo, sandbox: api::PodSandboxStatus) {
    if let Some(m) = sandbox.metadata {
        let some = |s: String| Some(s).filter(|s| !s.is_empty());
        info.pod_name = some(m.name);
        info.pod_namespace = some(m.namespace);
        info.pod_uid = some(m.uid);
    }
    // The kubelet's own labels repeat the pod's name, namespace and uid.
    info.pod_labels = Arc::new(
        sandbox
            .labels
            .into_iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes."))
            .collect(),
    );
}

/// What the CRI says about a container (or a pod sandbox).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CriInfo {
    pub pod_name: Option<String>,
    pub pod_namespace: Option<String>,
    pub pod_uid: Option<String>,
    /// The pod's labels, without the kubelet's `io.kubernetes.*` ones (shared: every event
    /// of the pod carries them).
    pub pod_labels: Arc<BTreeMap<String, String>>,
    /// The Kubernetes container name; `None` for a pod sandbox.
    pub container_name: Option<String>,
    pub image: Option<String>,
    /// Kubernetes' `imageID`: `name@sha256:…` where the runtime knows a repository
    /// digest, else the image id (`sha256:…`).
    pub image_id: Option<String>,
}

/// The answer for one container.
#[derive(Clone, Debug)]
pub enum Answer {
    Found(Arc<CriInfo>),
    /// The runtime does not know the id (not made through its CRI, or gone), or does not
    /// serve the CRI at all.
    Unknown,
    /// No answer (timeout, socket down, error), at this time.
    Failed(Instant),
}

/// Lookup counts, for `privmon_cri_lookups_total{result}`.
#[derive(Debug, Default)]
pub struct CriStats {
    pub found: AtomicU64,
    pub unknown: AtomicU64,
    pub timeout: AtomicU64,
    pub error: AtomicU64,
    /// Not asked: the socket's runtime does not serve `runtime.v1`.
    pub unsupported: AtomicU64,
    /// Lookups not queued because the CRI task was behind.
    pub queue_full: AtomicU64,
}

impl crate::scrape::Source for CriStats {
    fn collect(&self, scrape: &mut crate::scrape::Scrape) -> anyhow::Result<()> {
        for (result, n) in self.by_result() {
            scrape.counter_series(
                "privmon_cri_lookups_total",
                "Container lookups through the container runtime's CRI socket, by result: \
                 found, unknown (not a CRI container), timeout, error, queue_full (not \
                 asked: lookups were behind). Without an answer a container keeps the \
                 metadata of its OCI state.",
                &[("result", result)],
                n,
            )?;
        }
        Ok(())
    }
}

impl CriStats {
    pub fn by_result(&self) -> [(&'static str, u64); 6] {
        [
            ("found", self.found.load(Relaxed)),
            ("unknown", self.unknown.load(Relaxed)),
            ("timeout", self.timeout.load(Relaxed)),
            ("error", self.error.load(Relaxed)),
            ("unsupported", self.unsupported.load(Relaxed)),
            ("queue_full", self.queue_full.load(Relaxed)),
        ]
    }

    /// Counts a failed call by its kind.
    fn failed(&self, status: &Status) {
        let counter = if status.code() == Code::DeadlineExceeded {
            &self.timeout
        } else {
            &self.error
        };
        counter.fetch_add(1, Relaxed);
    }
}

/// What [`Cri::answer`] knows about a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Asked, no answer yet.
    Pending,
    Found(Arc<CriInfo>),
    /// Not a CRI container (or no CRI).
    Unknown,
    /// The runtime did not answer; asked again after [`RETRY_AFTER`].
    Failed,
}

/// The output thread's handle on the CRI task.
pub struct Cri {
    requests: mpsc::Sender<String>,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    /// Ids asked for and not answered yet, with when they were asked. One pending longer
    /// than [`RETRY_AFTER`] (its answer lost to the table's reset) is asked again.
    asked: HashMap<String, Instant>,
    stats: Arc<CriStats>,
    pub socket: PathBuf,
}

impl Cri {
    /// The socket to use: `configured`, else the first well-known one that exists under
    /// `root` (where the host's filesystem is seen).
    pub fn find_socket(configured: Option<&Path>, root: &Path) -> Option<PathBuf> {
        if let Some(p) = configured {
            return Some(p.to_path_buf());
        }
        WELL_KNOWN_SOCKETS
            .iter()
            .map(|s| root.join(s.trim_start_matches('/')))
            .find(|p| p.exists())
    }

    /// Starts the lookup task on the current tokio runtime. It logs the runtime's name and
    /// version, or why it does not answer (the daemon goes on without it).
    pub fn start(socket: PathBuf, timeout: Duration, stats: Arc<CriStats>) -> anyhow::Result<Cri> {
        let client = Client::new(&socket, timeout)
            .with_context(|| format!("CRI client for {}", socket.display()))?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let cri = Cri::with_channel(socket, tx.clone(), stats);
        tokio::spawn(serve(
            client,
            cri.socket.clone(),
            (tx, rx),
            cri.answers.clone(),
            cri.stats.clone(),
        ));
        Ok(cri)
    }

    fn with_channel(socket: PathBuf, requests: mpsc::Sender<String>, stats: Arc<CriStats>) -> Cri {
        Cri {
            requests,
            answers: Arc::default(),
            asked: HashMap::new(),
            stats,
            socket,
        }
    }

    /// The answer for container `id`, asking the runtime if it has not been asked (or its
    /// last lookup failed more than [`RETRY_AFTER`] ago). Never waits.
    pub fn answer(&mut self, id: &str) -> Lookup {
        let known = lock(&self.answers).get(id).cloned();
        match known {
            Some(Answer::Found(info)) => {
                self.asked.remove(id);
                return Lookup::Found(info);
            }
            Some(Answer::Unknown) => {
                self.asked.remove(id);
                return Lookup::Unknown;
            }
            Some(Answer::Failed(at)) if at.elapsed() < RETRY_AFTER => {
                self.asked.remove(id);
                return Lookup::Failed;
            }
            // An old failure stands until the new answer replaces it.
            Some(Answer::Failed(_)) | None => {}
        }
        if self
            .asked
            .get(id)
            .is_some_and(|at| at.elapsed() < RETRY_AFTER)
        {
            return Lookup::Pending;
        }
        match self.requests.try_send(id.to_string()) {
            Ok(()) => {
                if self.asked.len() >= MAX_ANSWERS {
                    self.asked.clear();
                }
                self.asked.insert(id.to_string(), Instant::now());
                Lookup::Pending
            }
            Err(_) => {
                // Behind (or gone): the container keeps the OCI state's metadata for now.
                self.stats.queue_full.fetch_add(1, Relaxed);
                self.asked.remove(id);
                lock(&self.answers).insert(id.to_string(), Answer::Failed(Instant::now()));
                Lookup::Failed
            }
        }
    }

    /// Drops what is known about a container that is gone.
    pub fn forget(&mut self, id: &str) {
        self.asked.remove(id);
        lock(&self.answers).remove(id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether the runtime serves the CRI, as far as its `Version` answer says.
enum Served {
    Yes,
    /// No `runtime.v1` (a containerd with its CRI plugin off, as Docker's, or older than
    /// 1.6): no lookups at all.
    No,
    /// No answer (yet).
    Unknown,
}

/// Asks the runtime's name and version and logs them; `quiet`: say nothing when it does
/// not answer.
async fn announce(client: &mut Client, socket: &Path, quiet: bool) -> Served {
    match client.version().await {
        Ok(v) => {
            info!(
                socket = %socket.display(),
                runtime = %v.runtime_name,
                version = %v.runtime_version,
                api = %v.runtime_api_version,
                "CRI: pod labels and image digests come from the container runtime"
            );
            Served::Yes
        }
        Err(e) if e.code() == Code::Unimplemented => {
            warn!(
                socket = %socket.display(),
                error = %e.message(),
                "CRI: the runtime on this socket does not serve the CRI (runtime.v1: its CRI \
                 plugin is off, as in Docker's containerd, or it predates containerd 1.6); \
                 containers keep the metadata of their OCI state (set cri_socket to the \
                 runtime the kubelet uses)"
            );
            Served::No
        }
        Err(e) => {
            if !quiet {
                warn!(
                    socket = %socket.display(),
                    error = %e.message(),
                    "CRI: the container runtime does not answer; containers keep the metadata \
                     of their OCI state (asked again per container)"
                );
            }
            Served::Unknown
        }
    }
}

/// The CRI task: answers lookups one at a time.
async fn serve(
    mut client: Client,
    socket: PathBuf,
    (again, mut requests): (mpsc::Sender<String>, mpsc::Receiver<String>),
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    stats: Arc<CriStats>,
) {
    let mut served = announce(&mut client, &socket, false).await;
    // Not-found answers so far, per container still being asked about.
    let mut not_found: HashMap<String, u32> = HashMap::new();
    // Logged when the runtime stops or starts answering, not for every container.
    let mut failing = false;
    let record = |id: String, answer: Answer| {
        let mut answers = lock(&answers);
        if answers.len() >= MAX_ANSWERS {
            answers.clear();
        }
        answers.insert(id, answer);
    };
    while let Some(id) = requests.recv().await {
        if matches!(served, Served::No) {
            stats.unsupported.fetch_add(1, Relaxed);
            record(id, Answer::Unknown);
            continue;
        }
        let answer = match client.describe(&id).await {
            Ok(Some(info)) => {
                stats.found.fetch_add(1, Relaxed);
                Answer::Found(Arc::new(info))
            }
            Ok(None) => {
                let tries = not_found.entry(id.clone()).or_default();
                *tries += 1;
                if *tries <= NOT_FOUND_RETRIES {
                    // No answer yet: the lookup stays pending and comes back later.
                    let again = again.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(NOT_FOUND_RETRY_AFTER).await;
                        let _ = again.send(id).await;
                    });
                    continue;
                }
                stats.unknown.fetch_add(1, Relaxed);
                Answer::Unknown
            }
            Err(e) if e.code() == Code::Unimplemented => {
                warn!(
                    socket = %socket.display(),
                    error = %e.message(),
                    "CRI: the runtime on this socket does not serve the CRI calls privmon \
                     makes; no more lookups"
                );
                served = Served::No;
                stats.unsupported.fetch_add(1, Relaxed);
                Answer::Unknown
            }
            Err(e) => {
                stats.failed(&e);
                if !failing {
                    warn!(id = %id, error = %e.message(), code = ?e.code(), "CRI lookup failed");
                }
                failing = true;
                // What waits behind fails at once rather than one timeout each; all of it
                // is asked again after RETRY_AFTER.
                let now = Instant::now();
                while let Ok(queued) = requests.try_recv() {
                    stats.failed(&e);
                    not_found.remove(&queued);
                    record(queued, Answer::Failed(now));
                }
                Answer::Failed(now)
            }
        };
        if !matches!(answer, Answer::Failed(_)) {
            if failing {
                info!("CRI lookups answer again");
                failing = false;
            }
            if matches!(served, Served::Unknown) {
                served = announce(&mut client, &socket, true).await;
            }
        }
        not_found.remove(&id);
        record(id, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cri(capacity: usize) -> (Cri, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(capacity);
        (
            Cri::with_channel(PathBuf::from("/nonexistent"), tx, Arc::default()),
            rx,
        )
    }

    fn queued(rx: &mut mpsc::Receiver<String>) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv().ok()).collect()
    }

    #[test]
    fn a_container_is_asked_about_once_and_its_answer_read_without_waiting() {
        let (mut c, mut rx) = cri(8);
        assert_eq!(c.answer("a"), Lookup::Pending);
        assert_eq!(c.answer("a"), Lookup::Pending);
        assert_eq!(queued(&mut rx), ["a"]);
        let info = Arc::new(CriInfo {
            pod_name: Some("p".into()),
            ..CriInfo::default()
        });
        lock(&c.answers).insert("a".into(), Answer::Found(info.clone()));
        assert_eq!(c.answer("a"), Lookup::Found(info));
        lock(&c.answers).insert("b".into(), Answer::Unknown);
        assert_eq!(c.answer("b"), Lookup::Unknown);
        assert!(queued(&mut rx).is_empty());
        assert!(c.asked.is_empty());
    }

    #[test]
    fn failures_and_lost_answers_are_asked_about_again_after_the_retry_time() {
        let (mut c, mut rx) = cri(8);
        lock(&c.answers).insert("f".into(), Answer::Failed(Instant::now()));
        assert_eq!(c.answer("f"), Lookup::Failed);
        assert!(queued(&mut rx).is_empty());
        let long_ago = Instant::now()
            .checked_sub(RETRY_AFTER + Duration::from_secs(1))
            .unwrap();
        lock(&c.answers).insert("f".into(), Answer::Failed(long_ago));
        assert_eq!(c.answer("f"), Lookup::Pending);
        assert_eq!(c.answer("f"), Lookup::Pending);
        assert_eq!(queued(&mut rx), ["f"]);
        // Asked, but the answer never came (the table was reset): asked again.
        c.asked.insert("l".into(), long_ago);
        assert_eq!(c.answer("l"), Lookup::Pending);
        assert_eq!(queued(&mut rx), ["l"]);
    }

    #[test]
    fn a_full_queue_is_a_counted_failure_and_forget_drops_everything() {
        let (mut c, mut rx) = cri(1);
        assert_eq!(c.answer("a"), Lookup::Pending);
        assert_eq!(c.answer("b"), Lookup::Failed);
        assert_eq!(c.stats.queue_full.load(Relaxed), 1);
        assert_eq!(c.answer("b"), Lookup::Failed);
        assert_eq!(queued(&mut rx), ["a"]);
        c.forget("a");
        c.forget("b");
        assert!(c.asked.is_empty() && lock(&c.answers).is_empty());
    }
}
