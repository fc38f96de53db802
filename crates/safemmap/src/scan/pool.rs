//! The thread pool parallel scans run on (rayon's, with the `parallel`
//! feature, the default), started so that a fork at any moment leaves a
//! child whose scans work; without the feature, scans run on the calling
//! thread.

/// Runs `work` on `threads` threads of the pool at once, and returns when
/// all are done; on the calling thread alone if `threads` is 1 or there is
/// no pool (see `parallel::pool`).
#[cfg(feature = "parallel")]
pub(super) fn run_workers(threads: usize, work: impl Fn() + Sync) {
    match parallel::pool() {
        Some(pool) if threads > 1 => pool.scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|_| work());
            }
        }),
        _ => work(),
    }
}

/// Without the `parallel` feature: `work` runs once, on this thread.
#[cfg(not(feature = "parallel"))]
pub(super) fn run_workers(_threads: usize, work: impl Fn() + Sync) {
    work()
}

#[cfg(feature = "parallel")]
mod parallel {
    use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

    use crate::scan::default_workers;
    use crate::sys;

    /// The threads parallel scans run on, one per available CPU; `None` in a
    /// child forked after they started (its copy of the pool has no threads:
    /// waiting for it would hang) or if they could not be started (a limit on
    /// threads), where scans run their blocks in turn.
    ///
    /// Started lock-free: of two threads that start it at once, one pool is
    /// kept and the other dropped. A `OnceLock` would make the second wait for
    /// the first, and a child forked meanwhile wait for ever.
    pub(super) fn pool() -> Option<&'static rayon::ThreadPool> {
        /// A pool and the fork count it was started at.
        struct Started {
            forks: usize,
            pool: Option<rayon::ThreadPool>,
        }
        static POOL: AtomicPtr<Started> = AtomicPtr::new(std::ptr::null_mut());
        let forks = sys::fork_count();
        let mut started = POOL.load(Ordering::Acquire);
        if started.is_null() {
            if !epoch_collector_started() {
                return None;
            }
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(default_workers())
                .thread_name(|i| format!("safemmap-scan-{i}"))
                .build();
            let ours = Box::into_raw(Box::new(Started {
                forks,
                pool: pool.ok(),
            }));
            started = match POOL.compare_exchange(
                std::ptr::null_mut(),
                ours,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => ours,
                Err(first) => {
                    // SAFETY: `ours` was never published.
                    drop(unsafe { Box::from_raw(ours) });
                    first
                }
            };
        }
        // SAFETY: a published pool is never freed.
        let started = unsafe { &*started };
        started.pool.as_ref().filter(|_| started.forks == forks)
    }

    /// Starts crossbeam-epoch's global collector, which rayon's deques use,
    /// on the calling thread; `false` if that cannot be done now. The collector
    /// starts under a `Once` at its first use: a fork while another thread is
    /// inside it leaves that `Once` running for ever in the child, and any pool
    /// started there hangs (its workers wait on it at their first steal). So a
    /// pool is only started once the collector is, and a child forked while it
    /// was starting runs its scans in turn, as does a thread that finds another
    /// starting it.
    fn epoch_collector_started() -> bool {
        /// 0: not started; 1: started; else the starting thread's fork count
        /// plus 2.
        static COLLECTOR: AtomicUsize = AtomicUsize::new(0);
        let starting = sys::fork_count() + 2;
        match COLLECTOR.compare_exchange(0, starting, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                drop(crossbeam_epoch::pin());
                COLLECTOR.store(1, Ordering::Release);
                true
            }
            Err(state) => state == 1,
        }
    }
}
