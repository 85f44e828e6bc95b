//! Logging: one subscriber for the process, pretty for people, JSON for log pipelines.
//! Request logs name the route, never the URI (the callback's query holds the code and state).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` is not set. tower-sessions opens an INFO span of its own on every
/// request; at `warn` it stays closed (its warnings still show) and costs nothing.
pub const DEFAULT_FILTER: &str = "info,tower_sessions=warn,tower_sessions_core=warn";

/// Installs the global subscriber writing to stdout; `RUST_LOG` overrides the level.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    init_with(format, filter, std::io::stdout);
}

/// Installs the global subscriber with the given filter and writer (tests capture the output).
/// A second call is harmless: the first subscriber stays.
pub fn init_with<W>(format: LogFormat, filter: EnvFilter, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // Colour codes only for a person at a terminal: in a log file they are noise (and cost).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
