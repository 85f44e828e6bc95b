//! The report: a Markdown table of figures against their targets, notes under it, and the
//! machine and settings it was measured on.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use crate::measure::Usage;
use crate::options::Ctx;
use crate::processes::{LOAD_CORE, SITE_CORE, run};
use crate::settings::{FLOW_STARTS_PER_SECOND, RATE_LIMIT_PER_MINUTE, RUST_LOG};

#[derive(Default)]
pub struct Report {
    rows: Vec<[String; 4]>,
    pub notes: Vec<String>,
}

/// What the report's header says about the run besides the flags.
pub struct RunInfo {
    /// The load average before the run.
    pub load_before: String,
    pub began: Instant,
    pub clk_tck: f64,
    /// Whether the site knows `RATE_LIMIT_PER_MINUTE` (older builds had no rate limit).
    pub rate_limit_known: bool,
}

impl Report {
    pub fn row(&mut self, figure: &str, value: String, target: &str, pass: Option<bool>) {
        let result = match pass {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "",
        };
        self.rows.push([
            figure.to_owned(),
            value,
            target.to_owned(),
            result.to_owned(),
        ]);
    }

    /// A figure with no target: shown, not judged.
    pub fn info(&mut self, figure: &str, value: String) {
        self.row(figure, value, "", None);
    }

    /// The whole report on standard output.
    pub fn print(&self, ctx: &Ctx, info: &RunInfo) {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n## ngi-consent load bench{}\n",
            if ctx.options.quick {
                " (--quick: smoke numbers, not figures)"
            } else {
                ""
            }
        );
        for line in machine() {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(
            out,
            "- load average (1, 5, 15 min): {} before, {} after; {:.0} s in all",
            info.load_before,
            loadavg(),
            info.began.elapsed().as_secs_f64()
        );
        let _ = writeln!(
            out,
            "- settings: site on core {SITE_CORE}, simulator + load generator on core {LOAD_CORE}; {} concurrent connections/flows, HTTP/1.1 keep-alive; \
             site {RUST_LOG} unset (info), log to {}; {RATE_LIMIT_PER_MINUTE}=0 ({}), {FLOW_STARTS_PER_SECOND}=0; CLK_TCK {}",
            ctx.options.concurrency,
            if ctx.options.site_logs {
                "target/tmp/bench-site.log"
            } else {
                "/dev/null"
            },
            if info.rate_limit_known {
                "known to the site"
            } else {
                "not yet a setting of the site"
            },
            info.clk_tck,
        );
        if !ctx.options.site_env.is_empty() {
            let extra: Vec<String> = ctx
                .options
                .site_env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(
                out,
                "- site settings given with --site-env: {}",
                extra.join(" ")
            );
        }
        let _ = writeln!(out, "\n| figure | value | target | |\n|---|---|---|---|");
        for [figure, value, target, result] in &self.rows {
            let _ = writeln!(out, "| {figure} | {value} | {target} | {result} |");
        }
        let _ = writeln!(out);
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        println!("{out}");
    }
}

/// The server's CPU ticks in a phase, and what the ±1 tick at each end is of them.
pub fn server_ticks(usage: &Usage) -> String {
    format!(
        "server {} ticks (±2 ticks = {:.1} %)",
        usage.server,
        200.0 / usage.server.max(1) as f64
    )
}

fn percent(x: f64) -> String {
    format!("{:.0} %", x * 100.0)
}

/// Who was saturated in a phase: each core's busy share, and our processes' share of it.
pub fn saturation(phase: &str, usage: &Usage, tick: f64, on_core1: &str) -> String {
    let site = usage.share(usage.server, tick);
    let load = usage.share(usage.simulator + usage.bench, tick);
    let verdict = |ours: f64, busy: f64| {
        if ours >= 0.9 {
            "saturated by ours"
        } else if busy >= 0.95 {
            "saturated, partly by other processes"
        } else {
            "not saturated"
        }
    };
    format!(
        "{phase}: core 0 busy {} (server {}, steal {}) — {}; core 1 busy {} ({on_core1} {}, steal {}) — {}",
        percent(usage.core_busy[0]),
        percent(site),
        percent(usage.core_steal[0]),
        verdict(site, usage.core_busy[0]),
        percent(usage.core_busy[1]),
        percent(load),
        percent(usage.core_steal[1]),
        verdict(load, usage.core_busy[1]),
    )
}

fn machine() -> Vec<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .map(|m| m.trim().to_owned())
        .unwrap_or_default();
    let commit = Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "describe",
            "--always",
            "--dirty",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    vec![
        format!("date: {}", run("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        format!(
            "machine: {cpus} CPUs, {model}, {memory} memory, Linux {}",
            kernel.trim()
        ),
        format!("commit: {commit}"),
    ]
}

pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
