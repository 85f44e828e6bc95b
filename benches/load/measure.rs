//! Measuring: CPU time of a process and of each core from /proc, the RSS, `perf record` around a
//! phase, and latency percentiles.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::options::Ctx;
use crate::processes::log_path;

#[derive(Clone, Copy, Default)]
struct CoreTimes {
    busy: u64,
    total: u64,
    steal: u64,
}

/// Clock ticks of utime + stime of a process (all its threads).
pub fn cpu_ticks(pid: u32) -> u64 {
    try_cpu_ticks(pid).unwrap_or_else(|| panic!("cannot read /proc/{pid}/stat"))
}

fn try_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: split after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the whole line are utime and stime; `rest` starts at field 3.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Clock ticks of every process named `comm` (e.g. `postgres`, whose backends are one process
/// per connection); processes that end between the listing and the read are skipped.
pub fn ticks_of(comm: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .filter_map(try_cpu_ticks)
        .sum()
}

fn core_times() -> [CoreTimes; 2] {
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let mut cores = [CoreTimes::default(); 2];
    for line in stat.lines() {
        for (i, core) in cores.iter_mut().enumerate() {
            if let Some(rest) = line.strip_prefix(&format!("cpu{i} ")) {
                let v: Vec<u64> = rest
                    .split_whitespace()
                    .map(|x| x.parse().unwrap())
                    .collect();
                // user nice system idle iowait irq softirq steal guest guest_nice
                let total: u64 = v[..8].iter().sum();
                *core = CoreTimes {
                    busy: total - v[3] - v[4],
                    total,
                    steal: v[7],
                };
            }
        }
    }
    cores
}

pub fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status"))
}

/// Who is watched during a phase: the server(s) and this process.
#[derive(Clone, Copy)]
pub struct Watched {
    pub server: u32,
    pub simulator: Option<u32>,
}

impl Watched {
    /// A server with no simulator behind it.
    pub fn server(pid: u32) -> Self {
        Self {
            server: pid,
            simulator: None,
        }
    }
}

#[derive(Clone, Copy)]
pub struct Snapshot {
    pub at: Instant,
    pub server: u64,
    pub simulator: u64,
    pub bench: u64,
    cores: [CoreTimes; 2],
}

impl Snapshot {
    pub fn take(w: Watched) -> Self {
        Self {
            at: Instant::now(),
            server: cpu_ticks(w.server),
            simulator: w.simulator.map_or(0, cpu_ticks),
            bench: cpu_ticks(std::process::id()),
            cores: core_times(),
        }
    }
}

/// What a phase used: CPU ticks of each process, wall time, and how busy the two cores were.
pub struct Usage {
    pub wall: Duration,
    pub server: u64,
    pub simulator: u64,
    pub bench: u64,
    /// Busy share of core 0 and core 1 over the phase, all processes (others' builds included).
    pub core_busy: [f64; 2],
    pub core_steal: [f64; 2],
}

impl Usage {
    pub fn between(a: &Snapshot, b: &Snapshot) -> Self {
        let share = |f: fn(&CoreTimes) -> u64, i: usize| {
            let total = (b.cores[i].total - a.cores[i].total).max(1) as f64;
            (f(&b.cores[i]) - f(&a.cores[i])) as f64 / total
        };
        Self {
            wall: b.at - a.at,
            server: b.server - a.server,
            simulator: b.simulator - a.simulator,
            bench: b.bench - a.bench,
            core_busy: [share(|c| c.busy, 0), share(|c| c.busy, 1)],
            core_steal: [share(|c| c.steal, 0), share(|c| c.steal, 1)],
        }
    }

    /// Share of one core a process used over the phase.
    pub fn share(&self, ticks: u64, tick: f64) -> f64 {
        ticks as f64 * tick / self.wall.as_secs_f64()
    }
}

/// `perf record` attached to a server for one phase (with `--perf`); stopped on drop.
pub struct Profiler(Option<Child>);

impl Profiler {
    pub fn attach(ctx: &Ctx, pid: u32, name: &str) -> Self {
        if !ctx.options.perf {
            return Self(None);
        }
        let out = log_path(&format!("perf-{name}.data"));
        let child = Command::new("perf")
            .args(["record", "-F", "997", "--call-graph", "dwarf,16384", "-p"])
            .arg(pid.to_string())
            .arg("-o")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("--perf needs perf (Debian's linux-perf)");
        // Let perf attach before the phase starts.
        std::thread::sleep(Duration::from_millis(500));
        eprintln!("perf: recording pid {pid} into {}", out.display());
        Self(Some(child))
    }
}

impl Drop for Profiler {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }
}

/// Every latency of a phase, in nanoseconds.
#[derive(Default)]
pub struct Latencies(pub Vec<u64>);

impl Latencies {
    pub fn percentile_ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1] as f64 / 1e6
    }
}
