//! Logging: one subscriber for the process, pretty for people, JSON for log pipelines.
//! Request logs name the route, never the URI (the callback's query holds the code and state).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{DefaultFields, Format, Json, JsonFields};
use tracing_subscriber::fmt::{MakeWriter, SubscriberBuilder};

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
    let builder = builder(filter, writer);
    // The builders' own `try_init` also routes the `log` crate into tracing, at the filter's level.
    let _ = match format {
        LogFormat::Json => json(builder).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

/// The subscriber [`init_with`] installs, as a value: tests install it for one thread only, so
/// one test binary can read both formats.
pub fn dispatch<W>(format: LogFormat, filter: EnvFilter, writer: W) -> tracing::Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = builder(filter, writer);
    match format {
        LogFormat::Json => json(builder).finish().into(),
        LogFormat::Pretty => builder.compact().finish().into(),
    }
}

fn builder<W>(
    filter: EnvFilter,
    writer: W,
) -> SubscriberBuilder<DefaultFields, Format, EnvFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // Colour codes only for a person at a terminal: in a log file they are noise (and cost).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer)
}

/// One JSON object a line, the event's fields at the top level, with the request span's fields.
fn json<W>(
    builder: SubscriberBuilder<DefaultFields, Format, EnvFilter, W>,
) -> SubscriberBuilder<JsonFields, Format<Json>, EnvFilter, W>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    builder
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
}
