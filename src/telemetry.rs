//! Logging: one subscriber for the process, pretty for people, JSON for log pipelines.
//! Request logs name the route, never the URI (the callback's query holds the code and state).

use std::str::FromStr;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

/// The filter when `RUST_LOG` is not set. tower-sessions opens an INFO span of its own on every
/// request; at `warn` it stays closed (its warnings still show) and costs nothing.
pub const DEFAULT_FILTER: &str = "info,tower_sessions=warn,tower_sessions_core=warn";

/// A log filter: a default level and levels by target, `info,ngi_consent=debug,sqlx=warn`
/// (the `RUST_LOG` syntax without span and field filters, which would need a regex engine in the
/// build for a feature the site does not use). Spaces around a directive and empty ones are
/// ignored; a span or field filter, a space inside a directive or no directive at all is not a
/// filter (`Targets` alone would read `x[span]=debug` as a target that never matches, and an
/// empty directive as `error` for everything).
pub fn filter(directives: &str) -> Option<Targets> {
    let parts: Vec<&str> = directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let refused = |d: &&str| d.contains(['[', ']', '{', '}']) || d.contains(char::is_whitespace);
    if parts.is_empty() || parts.iter().any(refused) {
        return None;
    }
    Targets::from_str(&parts.join(",")).ok()
}

/// The filter `RUST_LOG` gives, or [`DEFAULT_FILTER`] when it is unset or not a filter (said on
/// stderr: the logs are not started yet).
fn filter_from_env() -> Targets {
    let Ok(directives) = std::env::var("RUST_LOG") else {
        return default_filter();
    };
    filter(&directives).unwrap_or_else(|| {
        eprintln!(
            "ngi-consent: RUST_LOG is not a filter (a level and target=level pairs, comma-separated); logging with {DEFAULT_FILTER}"
        );
        default_filter()
    })
}

fn default_filter() -> Targets {
    filter(DEFAULT_FILTER).unwrap_or_default()
}

/// Installs the global subscriber writing to stdout; `RUST_LOG` overrides the level.
pub fn init(format: LogFormat) {
    init_with(format, filter_from_env(), std::io::stdout);
}

/// Installs the global subscriber with the given filter and writer (tests capture the output).
/// A second call is harmless: the first subscriber stays.
pub fn init_with<W>(format: LogFormat, filter: Targets, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    // `try_init` also routes the `log` crate into tracing, at the filter's level.
    let _ = dispatch(format, filter, writer).try_init();
}

/// The subscriber [`init_with`] installs, as a value: tests install it for one thread only, so
/// one test binary can read both formats.
pub fn dispatch<W>(format: LogFormat, filter: Targets, writer: W) -> tracing::Dispatch
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => tracing::Dispatch::new(registry.with(json_layer(writer))),
        LogFormat::Pretty => tracing::Dispatch::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi())
                    .with_writer(writer)
                    .compact(),
            ),
        ),
    }
}

/// Colour codes only for a person at a terminal: in a log file they are noise (and cost).
fn ansi() -> bool {
    std::io::IsTerminal::is_terminal(&std::io::stdout())
}

/// One JSON object a line, the event's fields at the top level, with the request span's fields.
fn json_layer<S, W>(
    writer: W,
) -> tracing_subscriber::fmt::Layer<
    S,
    tracing_subscriber::fmt::format::JsonFields,
    tracing_subscriber::fmt::format::Format<tracing_subscriber::fmt::format::Json>,
    W,
>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::*;

    #[test]
    fn default_filter_keeps_info_and_quiets_the_session_layers_span() {
        let filter = default_filter();
        assert!(filter.would_enable("ngi_consent::web", &Level::INFO));
        assert!(!filter.would_enable("ngi_consent::web", &Level::DEBUG));
        assert!(!filter.would_enable("tower_sessions::service", &Level::INFO));
        assert!(filter.would_enable("tower_sessions::service", &Level::WARN));
    }

    #[test]
    fn filter_reads_levels_by_target_the_most_specific_winning() {
        let filter = filter("warn,ngi_consent=debug,ngi_consent::ledger=error").unwrap();
        assert!(filter.would_enable("ngi_consent::web", &Level::DEBUG));
        assert!(!filter.would_enable("ngi_consent::ledger::write", &Level::WARN));
        assert!(filter.would_enable("hyper", &Level::WARN));
        assert!(!filter.would_enable("hyper", &Level::INFO));
    }

    #[test]
    fn filter_ignores_spaces_and_empty_directives() {
        let filter = filter(" info, ngi_consent=debug ,").unwrap();
        assert!(filter.would_enable("ngi_consent::web", &Level::DEBUG));
        assert!(filter.would_enable("hyper", &Level::INFO));
        assert!(!filter.would_enable("hyper", &Level::DEBUG));
    }

    #[test]
    fn filter_refuses_what_is_not_a_filter() {
        for not_a_filter in [
            "info,ngi_consent=loud",
            "",
            " , ",
            "ngi_consent[request]=debug",
            "ngi_consent[{route}]=debug",
            "info,ngi consent=debug",
        ] {
            assert!(filter(not_a_filter).is_none(), "{not_a_filter:?}");
        }
    }
}
