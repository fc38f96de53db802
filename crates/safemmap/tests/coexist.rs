//! Everything that is not a fault of safemmap's behaves as if safemmap were
//! not there: other handlers of SIGSEGV/SIGBUS, signals sent with kill and
//! friends, fork at any moment, any number of threads. Most cases run a
//! child process twice, with and without safemmap's handler on top, and
//! compare what happened.
//!
//! No libtest harness: it runs each test on a thread of its own, and a
//! signal sent to the process would go to its main thread instead.

//! Linux only: the cases use its signal APIs (sigqueue, si_pid), and no
//! other Unix runs the tests here.

#[cfg(target_os = "linux")]
mod common;

fn main() {
    #[cfg(target_os = "linux")]
    linux::main();
}

#[cfg(target_os = "linux")]
mod linux {
    use super::common;

    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{ExitStatus, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    use safemmap::{Mmap, MmapOptions};

    const PAGE: usize = 4096;
    const CASE: &str = "SAFEMMAP_COEXIST_CASE";

    /// Runs this test binary again as the child `case`; its stdout lines that
    /// start with "observed:".
    fn run_child(case: &str) -> (ExitStatus, Vec<String>) {
        let output = common::this_test_binary(&[])
            .env(CASE, case)
            .stderr(Stdio::null())
            .output()
            .unwrap();
        let observed = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.starts_with("observed:"))
            .map(str::to_owned)
            .collect();
        (output.status, observed)
    }

    fn child_case() -> Option<String> {
        std::env::var(CASE).ok()
    }

    fn observe(what: std::fmt::Arguments<'_>) {
        let mut out = std::io::stdout().lock();
        writeln!(out, "observed: {what}").unwrap();
        out.flush().unwrap();
    }

    /// A page that faults until a handler makes it writable again.
    static TRAP: AtomicUsize = AtomicUsize::new(0);
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    /// What the last handler call saw: bit 0 SIGUSR1 blocked, bit 1 SIGSEGV
    /// blocked, bit 2 sent by this process (si_code <= 0, si_pid ours).
    static SEEN: AtomicUsize = AtomicUsize::new(0);

    fn protect(page: usize, prot: libc::c_int) {
        // SAFETY: `page` is a page of an anonymous mapping this test owns.
        assert_eq!(unsafe { libc::mprotect(page as *mut _, PAGE, prot) }, 0);
    }

    fn blocked(signal: libc::c_int) -> bool {
        // SAFETY: queries the mask into a zeroed set.
        unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            libc::sigismember(&mask, signal) == 1
        }
    }

    fn note_call(sent_by_us: bool) {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let seen = usize::from(blocked(libc::SIGUSR1))
            | usize::from(blocked(libc::SIGSEGV)) << 1
            | usize::from(sent_by_us) << 2;
        SEEN.store(seen, Ordering::SeqCst);
    }

    extern "C" fn repair_plain(_: libc::c_int) {
        note_call(false);
        protect(
            TRAP.load(Ordering::SeqCst),
            libc::PROT_READ | libc::PROT_WRITE,
        );
    }

    extern "C" fn repair_siginfo(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel's (or safemmap's, passing it on) siginfo.
        let sent_by_us = unsafe { (*info).si_code <= 0 && (*info).si_pid() == libc::getpid() };
        note_call(sent_by_us);
        protect(
            TRAP.load(Ordering::SeqCst),
            libc::PROT_READ | libc::PROT_WRITE,
        );
    }

    /// A crash reporter: reports and returns, repairing nothing.
    extern "C" fn report(_: libc::c_int) {
        note_call(false);
    }

    /// Installs `handler` (or SIG_DFL/SIG_IGN) with `flags` and SIGUSR1 in
    /// its mask, over whatever was there (Rust's own stack-overflow handler).
    fn install_previous(handler: libc::sighandler_t, flags: libc::c_int) {
        // SAFETY: a fully initialised action whose handler matches its flags.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler;
            action.sa_flags = flags;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaddset(&mut action.sa_mask, libc::SIGUSR1);
            for signal in [libc::SIGSEGV, libc::SIGBUS] {
                assert_eq!(libc::sigaction(signal, &action, std::ptr::null_mut()), 0);
            }
        }
    }

    fn previous(kind: &str) {
        let plain = repair_plain as *const () as libc::sighandler_t;
        let siginfo = repair_siginfo as *const () as libc::sighandler_t;
        let reporter = report as *const () as libc::sighandler_t;
        match kind {
            "default" => install_previous(libc::SIG_DFL, 0),
            "ignore" => install_previous(libc::SIG_IGN, 0),
            "plain" => install_previous(plain, 0),
            "siginfo" => install_previous(siginfo, libc::SA_SIGINFO),
            "nodefer" => install_previous(siginfo, libc::SA_SIGINFO | libc::SA_NODEFER),
            "resethand" => install_previous(reporter, libc::SA_RESETHAND),
            other => panic!("unknown previous action {other}"),
        }
    }

    /// A map of a file cut short: reading past its first page faults.
    fn cut_map() -> (std::fs::File, Mmap) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[b'x'; 2 * PAGE]).unwrap();
        let map = Mmap::map(&file).unwrap();
        file.set_len(PAGE as u64).unwrap();
        (file, map)
    }

    fn trigger(how: &str) {
        // SAFETY: each sends SIGSEGV to this thread or process, or writes to
        // the trap page, which faults until a handler repairs it.
        unsafe {
            match how {
                "fault" => {
                    let page = TRAP.load(Ordering::SeqCst);
                    protect(page, libc::PROT_NONE);
                    (page as *mut u8).write_volatile(1);
                }
                "raise" => assert_eq!(libc::raise(libc::SIGSEGV), 0),
                "kill" => assert_eq!(libc::kill(libc::getpid(), libc::SIGSEGV), 0),
                "pthread_kill" => {
                    assert_eq!(libc::pthread_kill(libc::pthread_self(), libc::SIGSEGV), 0)
                }
                "sigqueue" => {
                    let value = libc::sigval {
                        sival_ptr: std::ptr::null_mut(),
                    };
                    assert_eq!(libc::sigqueue(libc::getpid(), libc::SIGSEGV, value), 0);
                }
                other => panic!("unknown trigger {other}"),
            }
        }
    }

    /// A child: a previous action, a trigger fired twice, with or without
    /// safemmap on top. What the handler saw is printed; dying is the status.
    fn previous_action_child(kind: &str, how: &str, with: &str) {
        // SAFETY: arms a timer that ends a hung child.
        unsafe { libc::alarm(20) };
        // SAFETY: a fresh anonymous page, owned by this process.
        let trap = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        TRAP.store(trap as usize, Ordering::SeqCst);
        previous(kind);
        let protected = (with == "with").then(|| {
            let (file, map) = cut_map();
            assert!(map.byte_at(PAGE).is_err(), "safemmap is on top");
            (file, map)
        });
        for round in 0..2 {
            trigger(how);
            observe(format_args!(
                "round {round}: calls {} seen {:#b}",
                CALLS.load(Ordering::SeqCst),
                SEEN.load(Ordering::SeqCst)
            ));
        }
        if let Some((_file, map)) = protected {
            assert!(map.byte_at(PAGE).is_err(), "safemmap is still on top");
        }
    }

    /// Each previous action (default, ignored, handlers of each kind) sees each
    /// kind of signal (a fault; raise, kill, pthread_kill, sigqueue) as it
    /// would without safemmap: called as often, with the same mask and
    /// siginfo, and the process dies or lives alike.
    fn previous_actions_see_what_they_would_without_safemmap() {
        let mut failures = Vec::new();
        for kind in [
            "default",
            "ignore",
            "plain",
            "siginfo",
            "nodefer",
            "resethand",
        ] {
            for how in ["fault", "raise", "kill", "pthread_kill", "sigqueue"] {
                let without = run_child(&format!("previous:{kind}:{how}:without"));
                let with = run_child(&format!("previous:{kind}:{how}:with"));
                if with != without {
                    failures.push(format!(
                        "{kind} {how}: without safemmap {without:?}, with it {with:?}"
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    extern "C" fn repair_faulting_page(
        _: libc::c_int,
        info: *mut libc::siginfo_t,
        _: *mut libc::c_void,
    ) {
        CALLS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the kernel's siginfo for a fault.
        let address = unsafe { (*info).si_addr() } as usize;
        protect(address & !(PAGE - 1), libc::PROT_READ | libc::PROT_WRITE);
    }

    const REPAIRING_THREADS: usize = 4;
    const REPAIRED_FAULTS: usize = 20_000;

    fn repairing_handler_child() {
        // SAFETY: arms a timer that ends a hung child.
        unsafe { libc::alarm(120) };
        install_previous(
            repair_faulting_page as *const () as libc::sighandler_t,
            libc::SA_SIGINFO,
        );
        let (_file, map) = cut_map();
        let pages = MmapOptions::new()
            .len(REPAIRING_THREADS * PAGE)
            .map_anon()
            .unwrap();
        let base = pages.as_ptr() as usize;
        std::thread::scope(|scope| {
            for thread in 0..REPAIRING_THREADS {
                let page = base + thread * PAGE;
                scope.spawn(move || {
                    for round in 0..REPAIRED_FAULTS {
                        protect(page, libc::PROT_NONE);
                        // SAFETY: the page is ours; the handler below makes it
                        // writable again.
                        unsafe { (page as *mut u8).write_volatile(round as u8) };
                    }
                });
            }
            scope.spawn(|| {
                for _ in 0..REPAIRED_FAULTS / 10 {
                    assert!(map.byte_at(PAGE).is_err());
                    assert!(map.find(b"zz", ..).is_err());
                }
            });
        });
        observe(format_args!("calls {}", CALLS.load(Ordering::Relaxed)));
    }

    /// A runtime that repairs pages (a JVM, a garbage collector) keeps
    /// working with faults on four threads at once, while safemmap's own faults
    /// on another thread become errors.
    fn a_repairing_handler_below_serves_four_threads_at_once() {
        let (status, observed) = run_child("repairing");
        assert!(status.success(), "{status:?}");
        let calls = REPAIRING_THREADS * REPAIRED_FAULTS;
        assert_eq!(observed, [format!("observed: calls {calls}")]);
    }

    /// No table of threads to fill: 2,000 threads alive at once each make
    /// guarded calls and catch a fault.
    fn two_thousand_live_threads_each_use_a_map() {
        const THREADS: usize = 2_000;
        let (_file, map) = cut_map();
        let all_alive = Barrier::new(THREADS);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    std::thread::Builder::new()
                        .stack_size(64 << 10)
                        .spawn_scoped(scope, || {
                            all_alive.wait();
                            // No unwrap before the barrier: a thread that
                            // panicked there would leave the others waiting.
                            let found = map.find(b"xx", 100..PAGE).ok();
                            let fault = refusal_is_fault(map.find(b"zz", ..));
                            all_alive.wait();
                            (found, fault)
                        })
                        .unwrap()
                })
                .collect();
            for handle in handles {
                assert_eq!(handle.join().unwrap(), (Some(Some(100)), true));
            }
        });
    }

    fn refusal_is_fault<T>(result: std::io::Result<T>) -> bool {
        result.is_err_and(|err| matches!(safemmap::refusal(&err), Some(safemmap::Error::Fault(_))))
    }

    /// A file of `len` bytes of `x` ending in "needle", mapped.
    fn haystack(len: usize) -> (std::fs::File, Mmap) {
        let mut file = tempfile::tempfile().unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..len >> 20 {
            file.write_all(&block).unwrap();
        }
        let mut map = Mmap::map(&file).unwrap();
        map.write_at(len - 6, b"needle").unwrap();
        (file, map)
    }

    /// Forks, runs `child` in the child (its exit status is its result), and
    /// returns the child's status.
    fn fork_and(child: impl FnOnce() -> i32) -> ExitStatus {
        // SAFETY: the child runs `child` and exits without returning.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: a timer that ends a hung child, then _exit.
                unsafe {
                    libc::alarm(30);
                    libc::_exit(child())
                }
            }
            -1 => panic!("fork: {}", std::io::Error::last_os_error()),
            pid => {
                let mut status = 0;
                // SAFETY: waits for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                ExitStatus::from_raw(status)
            }
        }
    }

    /// A 16 MiB map whose file was cut to 12: a search of it runs for a
    /// while inside a guarded call before it faults.
    fn long_cut_map() -> (std::fs::File, Mmap) {
        let (file, map) = haystack(16 << 20);
        file.set_len(12 << 20).unwrap();
        (file, map)
    }

    /// What a child checks after a fork in the middle of other threads'
    /// guarded scans: its own scans and faults work, nothing waits on a lock
    /// a parent thread held, and a fault that is not safemmap's, on a thread of
    /// its own, kills it. That thread likely runs on the stack of a parent
    /// thread that was inside a guarded call of `cut`: a guard record
    /// inherited from it would resume the fault on that dead thread's stack.
    fn child_after_fork(map: &Mmap, cut: &Mmap) -> i32 {
        let len = map.len();
        if map.scan(..).workers(2).find(b"needle").ok() != Some(Some(len - 6)) {
            return 2;
        }
        let lost = 13 << 20;
        if cut.byte_at(lost).is_ok() {
            return 3;
        }
        let wild = cut.as_ptr() as usize + lost;
        std::thread::spawn(move || {
            // SAFETY: none: reads past the end of the cut file, which must
            // kill the process.
            unsafe { (wild as *const u8).read_volatile() }
        })
        .join()
        .map_or(4, |_| 5)
    }

    const FORKS: usize = 50;

    fn fork_storm_child() {
        let (_file, map) = haystack(16 << 20);
        let (_cut_file, cut) = long_cut_map();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let statuses = std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        assert!(map.scan(..).workers(2).find(b"needle").unwrap().is_some());
                        assert!(cut.scan(..).workers(1).find(b"zz").is_err());
                    }
                });
            }
            let statuses: Vec<_> = (0..FORKS)
                .map(|_| fork_and(|| child_after_fork(&map, &cut)))
                .collect();
            stop.store(true, Ordering::Relaxed);
            statuses
        });
        for status in statuses {
            observe(format_args!("{:?} {:?}", status.code(), status.signal()));
        }
    }

    /// fork() while other threads are inside guarded scans: every child
    /// finishes its own work, then dies of its own SIGBUS.
    fn fork_at_any_moment() {
        let (status, observed) = run_child("fork-storm");
        assert!(status.success(), "{status:?}");
        assert_eq!(observed, vec!["observed: None Some(7)"; FORKS]);
    }

    fn pool_start_child() {
        let (_file, map) = haystack(16 << 20);
        let (_cut_file, cut) = long_cut_map();
        let status = std::thread::scope(|scope| {
            scope.spawn(|| map.scan(..).workers(2).find(b"needle").unwrap());
            fork_and(|| child_after_fork(&map, &cut))
        });
        observe(format_args!("{:?} {:?}", status.code(), status.signal()));
    }

    /// fork() while another thread starts the scan pool: the child's scans do
    /// not wait for a start that its parent's thread was making.
    fn fork_while_the_scan_pool_starts() {
        for _ in 0..20 {
            let (status, observed) = run_child("pool-start");
            assert!(status.success(), "{status:?}");
            assert_eq!(observed, ["observed: None Some(7)"]);
        }
    }

    /// The map a signal handler searches while the interrupted thread is
    /// inside a guarded call of its own.
    static HANDLER_MAP: AtomicUsize = AtomicUsize::new(0);
    static HANDLER_SEARCHES: AtomicUsize = AtomicUsize::new(0);

    extern "C" fn search_in_handler(_: libc::c_int) {
        // SAFETY: the address of a map that lives until the timer stops.
        let map = unsafe { &*(HANDLER_MAP.load(Ordering::SeqCst) as *const Mmap) };
        // Longer than 512 bytes: a guarded call, not a search in a copy.
        if map.find(b"needle", ..).ok() == Some(Some(map.len() - 6)) {
            HANDLER_SEARCHES.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn nested_child() {
        // SAFETY: arms a timer that ends a hung child.
        unsafe { libc::alarm(60) };
        let (_file, searched) = haystack(1 << 20);
        HANDLER_MAP.store(&searched as *const Mmap as usize, Ordering::SeqCst);
        let (_cut_file, cut) = long_cut_map();
        let every_100_us = libc::itimerval {
            it_interval: libc::timeval {
                tv_sec: 0,
                tv_usec: 100,
            },
            it_value: libc::timeval {
                tv_sec: 0,
                tv_usec: 100,
            },
        };
        // SAFETY: a handler with the plain signature; the timer's signal is
        // SIGPROF, which nothing else here uses.
        unsafe {
            libc::signal(
                libc::SIGPROF,
                search_in_handler as *const () as libc::sighandler_t,
            );
            libc::setitimer(libc::ITIMER_PROF, &every_100_us, std::ptr::null_mut());
        }
        let mut caught = 0;
        while HANDLER_SEARCHES.load(Ordering::SeqCst) < 200 {
            caught += usize::from(refusal_is_fault(cut.scan(..).workers(1).find(b"zz")));
        }
        // SAFETY: stops the timer.
        unsafe {
            let stop: libc::itimerval = std::mem::zeroed();
            libc::setitimer(libc::ITIMER_PROF, &stop, std::ptr::null_mut());
        }
        observe(format_args!(
            "every search of the cut map caught: {}",
            caught > 0
        ));
    }

    /// A signal handler that makes a guarded call while its thread is inside
    /// another: each is recognised on its own (a single record per thread
    /// had the inner call clear the outer's range, and the outer's fault
    /// then killed the process).
    fn a_guarded_call_inside_a_signal_handler_inside_another() {
        let (status, observed) = run_child("nested");
        assert!(status.success(), "{status:?}");
        assert_eq!(
            observed,
            ["observed: every search of the cut map caught: true"]
        );
    }

    fn run_as_child(case: &str) {
        match case.split(':').collect::<Vec<_>>()[..] {
            ["previous", kind, how, with] => previous_action_child(kind, how, with),
            ["repairing"] => repairing_handler_child(),
            ["fork-storm"] => fork_storm_child(),
            ["pool-start"] => pool_start_child(),
            ["nested"] => nested_child(),
            _ => panic!("unknown child {case}"),
        }
    }

    pub fn main() {
        if let Some(case) = child_case() {
            return run_as_child(&case);
        }
        let tests: [(&str, fn()); 6] = [
            (
                "previous_actions_see_what_they_would_without_safemmap",
                previous_actions_see_what_they_would_without_safemmap,
            ),
            (
                "a_repairing_handler_below_serves_four_threads_at_once",
                a_repairing_handler_below_serves_four_threads_at_once,
            ),
            (
                "two_thousand_live_threads_each_use_a_map",
                two_thousand_live_threads_each_use_a_map,
            ),
            (
                "a_guarded_call_inside_a_signal_handler_inside_another",
                a_guarded_call_inside_a_signal_handler_inside_another,
            ),
            ("fork_at_any_moment", fork_at_any_moment),
            (
                "fork_while_the_scan_pool_starts",
                fork_while_the_scan_pool_starts,
            ),
        ];
        let filter = std::env::args().nth(1).filter(|arg| !arg.starts_with('-'));
        // qemu-user cannot run threads in the child of a multi-threaded
        // guest (the children exit with 127): fork is tested natively.
        let emulated = std::env::var_os("SAFEMMAP_TEST_RUNNER").is_some();
        let (mut passed, mut failed, mut ignored) = (0, 0, 0);
        for (name, test) in tests {
            if filter
                .as_deref()
                .is_some_and(|filter| !name.contains(filter))
            {
                continue;
            }
            if emulated && name.starts_with("fork") {
                println!("test {name} ... ignored, under an emulator");
                ignored += 1;
                continue;
            }
            let outcome = std::panic::catch_unwind(test);
            println!(
                "test {name} ... {}",
                if outcome.is_ok() { "ok" } else { "FAILED" }
            );
            match outcome {
                Ok(()) => passed += 1,
                Err(_) => failed += 1,
            }
        }
        let result = if failed == 0 { "ok" } else { "FAILED" };
        println!("\ntest result: {result}. {passed} passed; {failed} failed; {ignored} ignored; 0 measured; 0 filtered out\n");
        std::process::exit(i32::from(failed > 0));
    }
}
