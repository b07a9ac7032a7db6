//! The threads that do the CPU work on a basis — libxml2's parse and XSD, the rules, the model, the
//! store's seal — one per core, shared by everything in the process that checks bases (the hub's
//! decide stage, the store's intake, the gateway).
//!
//! Why not `tokio::task::spawn_blocking`: the blocking pool starts a thread for every job that
//! finds none idle, so with 64 bases in flight a hub ran 37–42 threads and a store 17–26, each of
//! them allocating whole documents. glibc gives a thread that allocates while another holds the
//! lock an arena of its own (up to eight per core), and an arena keeps what is freed in it: the
//! processes held three times their live heap, and more the longer they ran, as every arena met
//! its own worst moment (docs/performance.md, "Memory"). Work that can use no more threads than
//! there are cores gains nothing from more threads; here it waits its turn in a queue instead,
//! and its allocations come from as many arenas as there are cores. `INVOICE_HUB_CPU_THREADS`
//! sets another number (four per core measured more memory, and less of a gain in latency than
//! letting more of the store's deliveries share a flush).
//!
//! What waits on the disk (a commit, a read) stays on the blocking pool: it holds a thread while
//! it waits, and the store's group commit shares one flush among the deliveries waiting for it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex, OnceLock};

type Job = Box<dyn FnOnce() + Send>;

/// The work panicked (a bug, not an answer about the basis); the thread goes on with the next.
#[derive(Debug, thiserror::Error)]
#[error("the check of the basis failed unexpectedly (a panic; see the log)")]
pub(crate) struct Panicked;

/// Runs `f` on one of the process's CPU threads and returns what it returned.
pub(crate) async fn run<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, Panicked> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        // A panic drops `tx` unsent: the caller gets `Panicked`, the thread lives on.
        if let Ok(r) = catch_unwind(AssertUnwindSafe(f)) {
            let _ = tx.send(r);
        }
    });
    // The threads never end, so the queue is always open.
    queue().send(job).map_err(|_| Panicked)?;
    rx.await.map_err(|_| Panicked)
}

/// The environment variable an operator sets to run another number of CPU threads.
const THREADS_ENV: &str = "INVOICE_HUB_CPU_THREADS";

/// Threads per core by default (docs/performance.md, "Memory").
const PER_CORE: usize = 1;

/// How many CPU threads a process runs: [`THREADS_ENV`] if set to a number from 1 on, else
/// [`PER_CORE`] per core the process may use.
fn threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::env::var(THREADS_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|&n: &usize| n >= 1)
        .unwrap_or(cores * PER_CORE)
}

/// The queue of the pool, started on first use with [`threads`] threads.
fn queue() -> &'static mpsc::Sender<Job> {
    static QUEUE: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = threads();
        if std::env::var_os(THREADS_ENV).is_some() {
            tracing::info!("{threads} CPU threads ({THREADS_ENV})");
        }
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("ih-cpu-{i}"))
                .spawn(move || work(&rx))
                .expect("starting a CPU thread");
        }
        tx
    })
}

/// One thread: the next job, until the process ends.
fn work(rx: &Mutex<mpsc::Receiver<Job>>) {
    loop {
        let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_pool_and_a_panic_is_an_error_not_a_lost_thread() {
        let name = run(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("ih-cpu-")));
        let threads = threads();
        // More panics than threads: had a panic taken its thread, the jobs after would hang.
        for _ in 0..threads + 1 {
            assert!(run(|| -> u32 { panic!("a bug") }).await.is_err());
        }
        let sums = futures_util::future::join_all((0..64u64).map(|i| run(move || i * 2))).await;
        let total: u64 = sums.into_iter().map(Result::unwrap).sum();
        assert_eq!(total, (0..64u64).map(|i| i * 2).sum::<u64>());
    }
}
