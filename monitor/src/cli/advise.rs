//! `privmon advise`: the least-privilege advice of a running daemon (`GET /advice`), as a
//! `securityContext` to apply, `docker run` flags, or JSON.

use anyhow::Context as _;
use serde_json::Value;

use crate::cli::client::DaemonArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One YAML document per workload: the evidence as comments, then `securityContext`.
    Yaml,
    /// The advice with its evidence, as the API gives it.
    Json,
    /// `docker run` / `podman run` flags, one line per workload.
    Docker,
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

pub fn run(args: &AdviseArgs) -> anyhow::Result<()> {
    let body = if args.reset {
        args.daemon.post(&args.url("/advice/reset"))?
    } else {
        args.daemon.get(&args.url("/advice"))?
    };
    let answer: Value =
        serde_json::from_reader(body.into_reader()).context("reading privmon's answer")?;
    if args.reset {
        println!("reset {} workload(s)", answer["reset"]);
        return Ok(());
    }
    let advice = answer.as_array().cloned().unwrap_or_default();
    if advice.is_empty() && args.format != Format::Json {
        anyhow::bail!("no workload matches (privmon advises on containers it has seen)");
    }
    print!("{}", render(&advice, args.format)?);
    Ok(())
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
