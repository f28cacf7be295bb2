//! `privmon`: the command line.

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use privmon::config::{Config, ConfigFlags};
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
        flags: ConfigFlags,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match cli.command {
        Command::Run { config, flags } => {
            let loaded = match &config {
                Some(path) => Config::from_file(path),
                None => Ok(Config::default()),
            };
            let config = match loaded.and_then(|c| c.with_flags(&flags)) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("privmon: invalid configuration: {e}");
                    return ExitCode::from(2);
                }
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
            match runtime.block_on(privmon::pipeline::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("privmon: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
