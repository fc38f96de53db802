//! CPU counts on Unix: `sysconf`, and on Linux and Android the calling
//! thread's affinity mask and the cgroup file systems.

use std::path::Path;

/// Logical CPUs online: `sysconf(_SC_NPROCESSORS_ONLN)`, CPython's
/// `os.cpu_count()` on Linux and macOS.
pub(crate) fn online_cpus() -> Option<usize> {
    // SAFETY: sysconf has no preconditions.
    let count = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(count).ok().filter(|&count| count >= 1)
}

/// The CPUs in the calling thread's affinity mask: CPython's
/// `len(os.sched_getaffinity(0))`.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn thread_affinity_cpus() -> Option<usize> {
    // The kernel refuses (EINVAL) a buffer smaller than its own mask, which
    // can exceed libc's 1024 CPUs: grow it until it fits, as CPython does.
    const MAX_WORDS: usize = 1 << 14; // a million CPUs
    let mut words = size_of::<libc::cpu_set_t>() / size_of::<u64>();
    loop {
        let mut mask = vec![0u64; words];
        // SAFETY: pid 0 is the calling thread; the kernel writes at most the
        // `words * 8` bytes given, into a buffer aligned for `cpu_set_t`
        // (an array of u64 or u32).
        let ret = unsafe {
            libc::sched_getaffinity(0, words * size_of::<u64>(), mask.as_mut_ptr().cast())
        };
        if ret == 0 {
            let count = mask.iter().map(|word| word.count_ones() as usize).sum();
            return Some(count).filter(|&count| count >= 1);
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL)
            || words >= MAX_WORDS
        {
            return None;
        }
        words *= 2;
    }
}

/// Other Unix systems: no affinity mask CPython would read.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn thread_affinity_cpus() -> Option<usize> {
    None
}

/// Unix affinity is per thread: see [`thread_affinity_cpus`].
pub(crate) fn process_affinity_cpus() -> Option<usize> {
    None
}

/// Where `/proc` and the cgroup file systems are: the root, on Linux.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn cgroup_root() -> Option<&'static Path> {
    Some(Path::new("/"))
}

/// No cgroups outside Linux.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn cgroup_root() -> Option<&'static Path> {
    None
}
