//! `privmon`: the command line.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use privmon::{
    config::{Config, ConfigFlags},
    rules::RuleSet,
};
use tracing_subscriber::EnvFilter;

/// Runtime privilege monitor for container hosts: reports every use of a Linux capability,
/// per container, from eBPF probes.
#[derive(Parser)]
#[command(name = "privmon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon: attach the probes, write events as JSON lines to stdout, serve
    /// /metrics, /healthz and /readyz (default 127.0.0.1:9798).
    ///
    /// Logs go to stderr (level from RUST_LOG, default info). Needs root, or CAP_BPF,
    /// CAP_PERFMON and CAP_SYS_ADMIN; SIGINT or SIGTERM detaches everything and exits 0.
    Run {
        /// YAML configuration file; flags override its keys.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: Box<ConfigFlags>,
    },
    /// Print the configuration that `run` would use with the same file and flags, as YAML:
    /// every key, its value and its meaning.
    ///
    /// Exits 2 when the file or a flag is refused, as `run` does. The output is itself a
    /// valid configuration file.
    Config {
        /// YAML configuration file; flags override its keys.
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        #[command(flatten)]
        flags: Box<ConfigFlags>,
    },
    /// Follow a running daemon's live stream (`/events`), with filters.
    ///
    /// One aligned line per event (time, severity or kind, namespace/pod/container,
    /// process, what happened), coloured on a terminal; `--json` for the raw lines.
    Tail {
        #[command(flatten)]
        args: privmon::cli::tail::TailArgs,
    },
    /// Load and attach every probe, report how each family is attached on this kernel, and
    /// detach.
    ///
    /// Shows the capability hook chosen, the hooks tried before it and why they failed
    /// (verifier logs included), and families left without a probe. Exits 1 when no
    /// capability hook attaches. Needs the same privileges as `run`.
    Probe {
        /// Capability hook to try (auto: in order of preference).
        #[arg(long, value_enum, default_value = "auto")]
        hook: privmon::config::HookChoice,
        /// One JSON document instead of text.
        #[arg(long)]
        json: bool,
        /// Coverage of sensitive-operation groups, GROUP=MODE as for `run` (`all=on`
        /// attaches every fallback syscall tracepoint).
        #[arg(long, value_name = "GROUP=MODE", value_delimiter = ',')]
        operations: Vec<String>,
    },
    /// Least-privilege advice from a running daemon: per workload, the capabilities it
    /// used and a `securityContext` that keeps only those.
    ///
    /// A workload adds up replicas and restarts: Kubernetes namespace + pod-name stem +
    /// container (outside Kubernetes: image + container). `--reset` forgets what the
    /// matching workloads used and starts their baseline learning again.
    Advise {
        #[command(flatten)]
        args: privmon::cli::advise::AdviseArgs,
    },
    /// What the advisor learned, to merge with other nodes' (`privmon advise --merge`).
    Baseline {
        #[command(subcommand)]
        command: BaselineCommand,
    },
    /// Check and list alert rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum BaselineCommand {
    /// Write every workload's observations on this node (`GET /baseline`) as a versioned
    /// JSON document with a digest (docs/advisor.md).
    Export {
        #[command(flatten)]
        args: privmon::cli::advise::ExportArgs,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate rule files (on top of the built-in rules) and list the rules they give.
    ///
    /// Exits 2 with file:line:column and the reason when a file is invalid.
    Check {
        /// Rule files, applied in order after the built-in rules.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Check the files alone, without the built-in rules.
        #[arg(long)]
        no_defaults: bool,
    },
    /// List the active rule set: the built-in rules plus the configuration's rule files.
    List {
        /// YAML configuration file (its `rules_files` and `default_rules`).
        #[arg(long, short, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Rule file (repeat for several; replaces the configuration's list).
        #[arg(long = "rules", value_name = "FILE")]
        rules_files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    // Each key's default in `run --help` and `config --help` comes from `Config::default()`.
    let command = Cli::command()
        .mut_subcommand("run", privmon::config::with_defaults_in_help)
        .mut_subcommand("config", privmon::config::with_defaults_in_help);
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Command::Rules { command } => rules_command(command),
        Command::Probe {
            hook,
            json,
            operations,
        } => probe_command(hook, json, &operations),
        Command::Advise { args } => match privmon::cli::advise::run(&args) {
            Ok(code) => ExitCode::from(code),
            Err(e) => {
                eprintln!("privmon advise: {e:#}");
                // --check's 1 and 3 are answers; a check that could not be made is 2.
                if args.check.is_some() {
                    ExitCode::from(2)
                } else {
                    ExitCode::FAILURE
                }
            }
        },
        Command::Baseline {
            command: BaselineCommand::Export { args },
        } => match privmon::cli::advise::export(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("privmon baseline export: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Tail { args } => match privmon::cli::tail::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("privmon tail: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Config { config, flags } => match effective_config(config, &flags) {
            Ok(config) => {
                print!("{}", config.to_documented_yaml());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        Command::Run { config, flags } => {
            let config_path = config.clone();
            let config = match effective_config(config, &flags) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("privmon: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            // SIGHUP rereads the file with the same flags (enforcement's keys apply).
            let reload: privmon::daemon::Reload = Box::new(move || {
                effective_config(config_path.clone(), &flags)
                    .map_err(|_| "see the message above".to_string())
            });
            match runtime.block_on(privmon::daemon::run_reloading(config, Some(reload))) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("privmon: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// The file's configuration (or the defaults) with the flags applied; exit status 2 and a
/// message naming the file, line and key when either is refused.
fn effective_config(file: Option<PathBuf>, flags: &ConfigFlags) -> Result<Config, ExitCode> {
    let loaded = match &file {
        Some(path) => Config::from_file(path),
        None => Ok(Config::default()),
    };
    loaded.and_then(|c| c.with_flags(flags)).map_err(|e| {
        eprintln!("privmon: invalid configuration: {e}");
        ExitCode::from(2)
    })
}

fn probe_command(hook: privmon::config::HookChoice, json: bool, operations: &[String]) -> ExitCode {
    let mut config = Config {
        hook,
        // Loaded as a dry run would, to say which actions this kernel supports (nothing is
        // armed: the probe watches no container).
        enforcement: privmon::config::EnforcementSwitch::DryRun,
        ..Config::default()
    };
    for setting in operations {
        if let Err(e) = config.operations.apply(setting) {
            eprintln!("privmon: --operations: {e}");
            return ExitCode::from(2);
        }
    }
    let report =
        privmon::kernel::loader::ProbeReport::new(privmon::kernel::loader::Probes::load(&config));
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    if report.attached() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn rules_command(command: RulesCommand) -> ExitCode {
    let (defaults, files) = match command {
        RulesCommand::Check { files, no_defaults } => (!no_defaults, files),
        RulesCommand::List {
            config,
            rules_files,
        } => {
            let loaded = match &config {
                Some(path) => Config::from_file(path),
                None => Ok(Config::default()),
            };
            match loaded {
                Ok(c) if rules_files.is_empty() => (c.default_rules, c.rules_files),
                Ok(c) => (c.default_rules, rules_files),
                Err(e) => {
                    eprintln!("privmon: invalid configuration: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    match RuleSet::load(defaults, &files) {
        Ok(rules) => {
            print!("{}", rules_table(&rules));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("privmon: invalid rules: {e}");
            ExitCode::from(2)
        }
    }
}

/// One aligned line per rule: id, severity, enabled, enforcement action, MITRE techniques,
/// source.
fn rules_table(rules: &RuleSet) -> String {
    let rows: Vec<[String; 6]> = rules
        .rules
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.severity.name().to_string(),
                if r.enabled { "on" } else { "off" }.to_string(),
                r.action.map_or("-", |a| a.name()).to_string(),
                r.mitre
                    .iter()
                    .map(|t| t.0.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                r.source.clone(),
            ]
        })
        .collect();
    let header = ["RULE", "SEVERITY", "ENABLED", "ACTION", "MITRE", "SOURCE"].map(str::to_string);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&rows) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} rules, {} enabled\n",
        rules.rules.len(),
        rules.enabled().count()
    ));
    out
}
