//! The command line: its arguments, and what each subcommand runs (the site, the simulator alone,
//! the container's health check, the crash tests' feed steps).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ServeArgs, Settings, SimulatorArgs, vars};
use crate::error::chain as error_chain;
use crate::feed::crash::CrashPoint;
use crate::startup::Application;
use crate::{simulator, telemetry};

#[derive(Parser)]
#[command(name = "ngi-consent", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the NGI simulator alone, for pointing another client at it.
    Simulator(SimulatorArgs),
    /// Ask the running site's /healthz (the container HEALTHCHECK); exit 0 when it answers 200.
    Healthcheck {
        /// The site's address [default: APP_BIND, with 0.0.0.0 read as 127.0.0.1]
        #[arg(long, env = vars::APP_BIND, default_value = "127.0.0.1:3000")]
        bind: std::net::SocketAddr,
    },
    /// Steps of the consent-feed follower against the configured NGI and ledger, then exit: the
    /// crash tests' follower (not for operators).
    #[command(hide = true)]
    FeedStep {
        /// Abort the process when the step reaches this point.
        #[arg(long, value_enum)]
        crash_at: Option<CrashPoint>,
        /// Step again while more is waiting, until the follower has caught up.
        #[arg(long)]
        until_caught_up: bool,
    },
}

/// The command line's entry: parses the arguments and runs what they ask on a multi-threaded
/// runtime. Here in the library, not in the binary, so that the whole program's async code is
/// compiled once: a binary's `async fn main` re-instantiates every future it awaits, and the
/// release binary took 29 s to build on top of the library's 72 s.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ngi-consent: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Some(Command::Simulator(args)) => run_simulator(args).await,
        Some(Command::Healthcheck { bind }) => healthcheck(bind).await,
        Some(Command::FeedStep {
            crash_at,
            until_caught_up,
        }) => feed_step(cli.serve, crash_at, until_caught_up).await,
        None => run_site(cli.serve).await,
    }
}

/// Builds the site as configured (nothing served, the runner off), arms `crash_at`, and calls
/// the follower's step once, or until caught up; prints one line per step:
/// `cursor=<n|none> leader=<bool> events=<n> more=<bool>`.
async fn feed_step(
    args: ServeArgs,
    crash_at: Option<CrashPoint>,
    until_caught_up: bool,
) -> ExitCode {
    let app = match build(args).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    if let Some(point) = crash_at {
        crate::feed::crash::arm(point);
    }
    loop {
        match app.follower().poll_once(jiff::Timestamp::now()).await {
            Ok(outcome) => {
                println!(
                    "cursor={} leader={} events={} more={}",
                    outcome
                        .cursor
                        .map_or_else(|| "none".to_owned(), |c| c.to_string()),
                    outcome.leader,
                    outcome.events.len(),
                    outcome.more
                );
                if !(until_caught_up && outcome.more) {
                    return ExitCode::SUCCESS;
                }
            }
            Err(e) => {
                eprintln!("ngi-consent: {}", error_chain(&e));
                return ExitCode::FAILURE;
            }
        }
    }
}

/// Reads the settings, starts the logs and builds the site: a bad setting exits 2 naming it, a
/// site that cannot be built (its ledger, its NGI settings) exits 1.
async fn build(args: ServeArgs) -> Result<Application, ExitCode> {
    let settings = Settings::from_args(args).map_err(|e| {
        eprintln!("ngi-consent: {}", error_chain(&e));
        ExitCode::from(2)
    })?;
    telemetry::init(settings.log_format);
    tracing::info!(settings = %settings, "starting");
    Application::build(settings).await.map_err(|e| {
        eprintln!("ngi-consent: {}", error_chain(&e));
        ExitCode::FAILURE
    })
}

async fn run_site(args: ServeArgs) -> ExitCode {
    let app = match build(args).await {
        Ok(app) => app,
        Err(code) => return code,
    };
    match app.simulator() {
        Some(sim) => println!(
            "ngi-consent is running: open {} (NGI simulator at {})",
            app.public_url(),
            sim.base_url()
        ),
        None => println!("ngi-consent is running at {}", app.public_url()),
    }
    // Printed, never logged: the demo's partner token is for whoever started the site.
    if let Some(token) = app.generated_partner_token() {
        println!(
            "Partner API token for this run (simulator mode): export PARTNER_TOKEN={}",
            token.secret()
        );
        println!(
            "  try: curl -X POST -H \"Authorization: Bearer $PARTNER_TOKEN\" -H 'Content-Type: application/json' -d '{{\"reference\":\"APP-1\"}}' {}partner/api/links",
            app.public_url()
        );
    }
    match app.run_until(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ngi-consent: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_simulator(args: SimulatorArgs) -> ExitCode {
    telemetry::init(crate::config::LogFormat::Pretty);
    let (addr, config) = match args.into_config() {
        Ok(parts) => parts,
        Err(e) => {
            eprintln!("ngi-consent simulator: {}", error_chain(&e));
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("ngi-consent simulator: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(bound) => println!("NGI simulator running at http://{bound}"),
        Err(_) => println!("NGI simulator running at http://{addr}"),
    }
    match simulator::serve(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ngi-consent simulator: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn healthcheck(mut bind: std::net::SocketAddr) -> ExitCode {
    if bind.ip().is_unspecified() {
        bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let client = match reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
    {
        Ok(client) => client,
        Err(_) => return ExitCode::FAILURE,
    };
    match client.get(format!("http://{bind}/healthz")).send().await {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        _ => ExitCode::FAILURE,
    }
}

/// SIGINT (Ctrl-C) or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
