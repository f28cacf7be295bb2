//! `privmon advise`: the least-privilege advice of a running daemon (`GET /advice`), as a
//! `securityContext` to apply, `docker run` flags, or JSON; with `--check`, a proposed spec
//! checked against what was used, and the advice as patches of it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize as _;
use serde_json::Value;

use crate::{
    advisor::{Advice, check},
    cli::client::DaemonArgs,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One YAML document per workload: the evidence as comments, then `securityContext`.
    Yaml,
    /// The advice with its evidence, as the API gives it.
    Json,
    /// `docker run` / `podman run` flags, one line per workload.
    Docker,
    /// With `--check`: strategic-merge patches of the manifests' objects (YAML documents).
    Patch,
    /// With `--check`: RFC 6902 operations per object, each container guarded by a `test`
    /// of its name.
    JsonPatch,
    /// Policy Reports (`wgpolicyk8s.io/v1alpha2`), one per namespace: a result per workload
    /// and finding (excess capabilities, privileged, use outside the baseline).
    Policyreport,
}

#[derive(Clone, Debug, clap::Args)]
pub struct AdviseArgs {
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// Kubernetes namespace.
    #[arg(long, short)]
    pub namespace: Option<String>,
    /// Pod name (its replicas share the advice) or the workload's name.
    #[arg(long, short)]
    pub pod: Option<String>,
    /// Container name.
    #[arg(long, short)]
    pub container: Option<String>,
    #[arg(long, short, value_enum, default_value = "yaml")]
    pub format: Format,
    /// Instead of advising: forget what the matching workloads used and learn their
    /// baselines again.
    #[arg(long)]
    pub reset: bool,
    /// Check the containers of these Kubernetes manifests (Pod, Deployment, StatefulSet,
    /// DaemonSet, ReplicaSet, Job, CronJob; several documents per file; initContainers too),
    /// or of a file holding a `docker run` / `podman run` command line, against what
    /// privmon saw them use. Exit status: 0 when nothing would break, 1 when
    /// something would, 3 when nothing is known (2: the check could not be made).
    #[arg(long, value_name = "FILE")]
    pub check: Option<PathBuf>,
    /// Advise from these baseline exports (`privmon baseline export` of several nodes)
    /// merged, instead of asking a daemon: replicas spread over nodes add up.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub merge: Vec<PathBuf>,
}

/// `privmon baseline export`: what a daemon learned, to merge with other nodes'.
#[derive(Clone, Debug, clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// Write it here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Runs `privmon baseline export`.
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let body = args.daemon.get(&args.daemon.url("/baseline", &[]))?;
    let text = body
        .into_with_config()
        .limit(256 << 20)
        .read_to_string()
        .context("reading privmon's baseline")?;
    // What the daemon sent is checked as any reader will check it.
    crate::advisor::Export::parse(&text)
        .map_err(|e| anyhow::anyhow!("the daemon's export: {e}"))?;
    match &args.out {
        Some(path) => std::fs::write(path, text + "\n")
            .with_context(|| format!("writing {}", path.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}

/// The merged advice of baseline export files, filtered as the daemon filters.
fn merged_advice(args: &AdviseArgs) -> anyhow::Result<Vec<Advice>> {
    let mut exports = Vec::new();
    for path in &args.merge {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let e = crate::advisor::Export::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        exports.push(e);
    }
    let filter = crate::advisor::Filter {
        namespace: args.namespace.clone(),
        pod: args.pod.clone(),
        container: args.container.clone(),
    };
    Ok(crate::advisor::advise_merged(
        &crate::advisor::merge(&exports),
        &filter,
    ))
}

impl AdviseArgs {
    fn url(&self, path: &str) -> String {
        self.daemon.url(
            path,
            &[
                ("namespace", self.namespace.as_deref()),
                ("pod", self.pod.as_deref()),
                ("container", self.container.as_deref()),
            ],
        )
    }
}

/// Runs the command; its exit status.
pub fn run(args: &AdviseArgs) -> anyhow::Result<u8> {
    anyhow::ensure!(
        !(args.reset && (args.check.is_some() || !args.merge.is_empty())),
        "--reset goes with neither --check nor --merge"
    );
    if let Some(file) = &args.check {
        return run_check(args, file);
    }
    anyhow::ensure!(
        !matches!(args.format, Format::Patch | Format::JsonPatch),
        "--format patch and json-patch need --check FILE: the manifests to patch"
    );
    if !args.merge.is_empty() {
        let advice: Vec<Value> = merged_advice(args)?
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()?;
        if advice.is_empty() && args.format != Format::Json {
            anyhow::bail!("no workload of those files matches");
        }
        print!("{}", render(&advice, args.format)?);
        return Ok(0);
    }
    let body = if args.reset {
        args.daemon.post(&args.url("/advice/reset"))?
    } else {
        args.daemon.get(&args.url("/advice"))?
    };
    let answer: Value =
        serde_json::from_reader(body.into_reader()).context("reading privmon's answer")?;
    if args.reset {
        println!("reset {} workload(s)", answer["reset"]);
        return Ok(0);
    }
    let advice = answer.as_array().cloned().unwrap_or_default();
    if advice.is_empty() && args.format != Format::Json {
        anyhow::bail!("no workload matches (privmon advises on containers it has seen)");
    }
    print!("{}", render(&advice, args.format)?);
    Ok(0)
}

/// The manifests of a file, every YAML document (empty ones left out).
pub fn manifests(file: &Path) -> anyhow::Result<Vec<Value>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut docs = Vec::new();
    for d in serde_yaml_ng::Deserializer::from_str(&text) {
        let v = Value::deserialize(d).with_context(|| format!("{}: not YAML", file.display()))?;
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

fn run_check(args: &AdviseArgs, file: &Path) -> anyhow::Result<u8> {
    // A file holding a `docker run` (or `podman run`) command line, or manifests. Lines
    // continued with a backslash are one command.
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading {}", file.display()))?
        .replace("\\\n", " ");
    let command = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| l.starts_with("docker ") || l.starts_with("podman "));
    let (docs, proposed) = match command {
        Some(line) => {
            let p =
                check::docker_run(line).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            (Vec::new(), vec![p])
        }
        None => {
            let docs = manifests(file)?;
            let proposed = check::containers_of(&docs)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            (docs, proposed)
        }
    };
    anyhow::ensure!(
        !proposed.is_empty(),
        "{}: no pod template in it (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)",
        file.display()
    );
    let advice: Vec<Advice> = if args.merge.is_empty() {
        let body = args.daemon.get(&args.url("/advice"))?;
        serde_json::from_reader(body.into_reader()).context("reading privmon's advice")?
    } else {
        merged_advice(args)?
    };
    let findings = check::check(&proposed, &advice);
    match args.format {
        Format::Yaml => print!("{}", check::report(&findings)),
        Format::Json => println!("{}", serde_json::to_string_pretty(&findings)?),
        Format::Policyreport => anyhow::bail!("--format policyreport does not apply to --check"),
        // The advised flags of each container checked.
        Format::Docker => {
            for f in &findings {
                if let Some(a) = check::advice_of(f, &advice) {
                    println!("# {}\n{}", a.workload, a.docker_flags.join(" "));
                }
            }
        }
        Format::Patch => {
            let patches = check::strategic_merge_patches(&docs, &findings, &advice);
            anyhow::ensure!(
                !patches.is_empty(),
                "no container of {} has advice",
                file.display()
            );
            let mut out = String::from(
                "# privmon advice as strategic-merge patches (kubectl patch --type strategic):\n\
                 # containers merge by name; capabilities.add and .drop are replaced whole\n",
            );
            // Documents separated by `---`, none before the first: a file of one object is
            // a patch file as it is.
            for (i, p) in patches.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                out.push_str(&serde_yaml_ng::to_string(p)?);
            }
            print!("{out}");
        }
        Format::JsonPatch => {
            let patches = check::json_patches(&docs, &findings, &advice);
            anyhow::ensure!(
                !patches.is_empty(),
                "no container of {} has advice",
                file.display()
            );
            println!("{}", serde_json::to_string_pretty(&patches)?);
        }
    }
    Ok(check::exit_status(&findings))
}

/// The advice in `format`.
pub fn render(advice: &[Value], format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(advice)?),
        Format::Docker => advice
            .iter()
            .map(|a| {
                let flags: Vec<&str> = a["docker_flags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                format!("# {}\n{}\n", workload(a), flags.join(" "))
            })
            .collect(),
        Format::Patch | Format::JsonPatch => {
            anyhow::bail!("--format patch and json-patch need --check FILE")
        }
        Format::Policyreport => {
            let advice: Vec<Advice> = advice
                .iter()
                .map(|a| serde_json::from_value(a.clone()))
                .collect::<Result<_, _>>()
                .context("privmon's advice is not in the expected form")?;
            let reports =
                crate::advisor::report::policy_reports(&advice, crate::advisor::unix_now());
            let docs: Vec<String> = reports
                .iter()
                .map(serde_yaml_ng::to_string)
                .collect::<Result<_, _>>()?;
            docs.join("---\n")
        }
        Format::Yaml => {
            let docs: Vec<String> = advice
                .iter()
                .map(|a| serde_json::from_value::<crate::advisor::Advice>(a.clone()))
                .map(|v| v.map(|v| v.to_yaml()))
                .collect::<Result<_, _>>()
                .context("privmon's advice is not in the expected form")?;
            docs.join("---\n")
        }
    })
}

fn workload(a: &Value) -> String {
    let w = &a["workload"];
    let owner = w["owner"].as_str().unwrap_or("?");
    let container = w["container"].as_str().unwrap_or("?");
    match w["namespace"].as_str() {
        Some(ns) => format!("{ns}/{owner}/{container}"),
        None => format!("{owner}/{container}"),
    }
}
