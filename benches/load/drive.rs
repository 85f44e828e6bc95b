//! Load: `concurrency` workers on this thread, each owning its connection(s), until a phase's
//! stop; only the phase itself is measured.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use crate::measure::{Snapshot, Usage, Watched, cpu_ticks};

/// When a phase stops: once `min_requests` are issued and the server used `min_ticks`, or at
/// `max_wall`; never more than `max_requests`.
pub struct Stop {
    pub min_requests: u64,
    pub max_requests: u64,
    pub min_ticks: u64,
    pub max_wall: Duration,
}

impl Stop {
    pub fn exactly(n: u64, max_wall: Duration) -> Self {
        Self {
            min_requests: n,
            max_requests: n,
            min_ticks: 0,
            max_wall,
        }
    }
}

pub struct Phase<T> {
    pub results: Vec<T>,
    pub failed: u64,
    pub first_error: Option<String>,
    pub usage: Usage,
}

/// Runs `job` on every worker until `stop`; CPU and core counters are read just before and
/// just after, so only this phase is measured.
pub async fn drive<W, T, F>(workers: &mut [W], watched: Watched, stop: Stop, job: F) -> Phase<T>
where
    F: AsyncFn(&mut W, u64) -> Result<T, String>,
{
    let issued = Cell::new(0u64);
    let stopping = Cell::new(false);
    let results = RefCell::new(Vec::new());
    let failures = RefCell::new((0u64, None::<String>));
    let before = Snapshot::take(watched);

    let watcher = async {
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let enough = issued.get() >= stop.min_requests
                && cpu_ticks(watched.server) - before.server >= stop.min_ticks;
            if enough || before.at.elapsed() >= stop.max_wall {
                stopping.set(true);
                return;
            }
        }
    };
    let job = &job;
    let work = futures_util::future::join_all(workers.iter_mut().map(|w| {
        let (issued, stopping, results, failures) = (&issued, &stopping, &results, &failures);
        async move {
            loop {
                if stopping.get() || issued.get() >= stop.max_requests {
                    stopping.set(true);
                    return;
                }
                issued.set(issued.get() + 1);
                match job(&mut *w, issued.get()).await {
                    Ok(result) => results.borrow_mut().push(result),
                    Err(e) => {
                        let mut f = failures.borrow_mut();
                        f.0 += 1;
                        f.1.get_or_insert(e);
                    }
                }
            }
        }
    }));
    // The phase ends when the last worker does, not at the watcher's next look.
    {
        let mut work = std::pin::pin!(work);
        tokio::select! {
            () = watcher => { (&mut work).await; }
            _ = &mut work => {}
        }
    }
    let after = Snapshot::take(watched);
    let (failed, first_error) = failures.into_inner();
    Phase {
        results: results.into_inner(),
        failed,
        first_error,
        usage: Usage::between(&before, &after),
    }
}
