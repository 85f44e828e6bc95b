//! The bench's flags, how much each scenario does, and what every scenario reads from both.

use std::time::Duration;

/// The site's idle session expiry during the memory scenario (when the site knows the setting):
/// longer than a wave of pending flows takes, so that none expires while they are counted.
const MEMORY_IDLE_SECS: u64 = 30;
const MEMORY_IDLE_SECS_QUICK: u64 = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Start,
    Flow,
    Memory,
    ColdStart,
}

pub struct Options {
    pub quick: bool,
    pub concurrency: usize,
    pub scenarios: Vec<Scenario>,
    pub site_logs: bool,
    pub perf: bool,
    /// Extra settings for the site (`--site-env KEY=VALUE`).
    pub site_env: Vec<(String, String)>,
}

/// How much each scenario does.
pub struct Sizes {
    pub start_warmup: u64,
    pub start_min_requests: u64,
    /// A phase also runs until the server used this many clock ticks, so that the ±1 tick at
    /// each end is under 1 % of the figure.
    pub min_ticks: u64,
    pub max_phase: Duration,
    pub flow_warmup: u64,
    pub flows: u64,
    pub pending_flows: u64,
}

impl Options {
    pub fn parse(args: &[String]) -> Self {
        let mut options = Options {
            quick: false,
            concurrency: 32,
            scenarios: vec![],
            site_logs: false,
            perf: false,
            site_env: vec![],
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--site-logs" => options.site_logs = true,
                "--perf" => options.perf = true,
                "--site-env" => {
                    let (key, value) = args
                        .next()
                        .and_then(|kv| kv.split_once('='))
                        .expect("--site-env takes KEY=VALUE");
                    options.site_env.push((key.to_owned(), value.to_owned()));
                }
                "--concurrency" => {
                    options.concurrency = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|&n| n > 0)
                        .expect("--concurrency takes a positive number");
                }
                "--only" => options
                    .scenarios
                    .push(match args.next().map(String::as_str) {
                        Some("start") => Scenario::Start,
                        Some("flow") => Scenario::Flow,
                        Some("memory") => Scenario::Memory,
                        Some("cold-start") => Scenario::ColdStart,
                        _ => panic!("--only takes start, flow, memory or cold-start"),
                    }),
                // cargo bench passes --bench; libtest-style filters are not used here.
                "--bench" => {}
                other if other.starts_with('-') => panic!("unknown flag {other}"),
                _ => {}
            }
        }
        if options.scenarios.is_empty() {
            options.scenarios = vec![
                Scenario::Start,
                Scenario::Flow,
                Scenario::Memory,
                Scenario::ColdStart,
            ];
        }
        options
    }

    pub fn sizes(&self) -> Sizes {
        if self.quick {
            Sizes {
                start_warmup: 500,
                start_min_requests: 3_000,
                min_ticks: 0,
                max_phase: Duration::from_secs(5),
                flow_warmup: 32,
                flows: 300,
                pending_flows: 10_000,
            }
        } else {
            Sizes {
                start_warmup: 5_000,
                start_min_requests: 30_000,
                min_ticks: 300,
                max_phase: Duration::from_secs(90),
                flow_warmup: 320,
                // Warm-up and measured flows together stay under the simulator's 10 000-entry
                // maps, past which each insert there scans the map (load side, not the site).
                flows: 8_000,
                pending_flows: 100_000,
            }
        }
    }
}

/// What every scenario reads: the flags, the sizes they imply, and the clock tick.
pub struct Ctx {
    pub options: Options,
    pub sizes: Sizes,
    /// Seconds per clock tick.
    pub tick: f64,
}

impl Ctx {
    pub fn memory_idle_secs(&self) -> u64 {
        if self.options.quick {
            MEMORY_IDLE_SECS_QUICK
        } else {
            MEMORY_IDLE_SECS
        }
    }
}
