//! How many CPUs the system has, how many this thread may run on, and how
//! many workers to start.
//!
//! Three counts, from the widest to the narrowest:
//!
//! | function | counts | in CPython 3.13 |
//! | --- | --- | --- |
//! | [`cpu_count`] | the logical CPUs of the system | `os.cpu_count()` |
//! | [`process_cpu_count`] | the CPUs the calling thread may run on | `os.process_cpu_count()`, which sizes `multiprocessing.Pool` and both `concurrent.futures` executors |
//! | [`available_cpu_count`] | the same, also capped by the CPU quota of the process's cgroups (containers) | none: [gh-149452] asks for it |
//!
//! Use [`available_cpu_count`] to decide how many threads or processes to
//! start for CPU-bound work: it is the default `workers` of safemmap's
//! parallel operations. [`process_cpu_count`] is what to use to reproduce
//! the Python 3.13 standard library's pool sizes, and [`cpu_count`] describes
//! the machine, not what this program can get from it.
//!
//! # Affinity
//!
//! On Linux an affinity mask (`taskset`, `sched_setaffinity`, a cpuset
//! cgroup, Docker's `--cpuset-cpus`) belongs to a *thread*: like CPython's
//! `len(os.sched_getaffinity(0))`, [`process_cpu_count`] reads the mask of
//! the calling thread, so a thread that restricted itself sees fewer CPUs
//! than its siblings. macOS has no affinity mask, and CPython reads none on
//! Windows: there [`process_cpu_count`] is [`cpu_count`], as in CPython.
//! [`available_cpu_count`] does use the Windows *process* affinity mask
//! (`start /affinity`, job objects), where it is complete: on machines with
//! a single processor group (64 logical CPUs or fewer). A process that was
//! given two CPUs should not start one worker per CPU of the machine.
//!
//! # Quotas
//!
//! A container limited to 1.5 CPUs (`docker run --cpus 1.5`) usually sees
//! every CPU of the host in its affinity mask; the limit is a cgroup CPU
//! quota: so much CPU time (`quota`) per scheduling period (`period`),
//! shared by all its threads. [`available_cpu_count`] takes, over the
//! cgroup of the process and every ancestor visible to it, the smallest
//! `ceil(quota / period)`:
//!
//! * cgroup v2: `cpu.max` (`150000 100000`, or `max 100000` for none);
//! * cgroup v1: `cpu.cfs_quota_us` (`-1` for none) and `cpu.cfs_period_us`
//!   of the hierarchy that has the `cpu` controller.
//!
//! The cgroups come from `/proc/self/cgroup` and the file systems they are
//! mounted on from `/proc/self/mountinfo`, so hybrid v1/v2 set-ups,
//! unusual mount points and the partial views of containers without a
//! cgroup namespace are all followed. Reading them never fails: a missing
//! or unreadable file, a value that does not parse, `max`, `-1` or zero is
//! "no quota at this level". [`cpu_quota_under`] reads the same files under
//! another root directory, for tests and for tools that inspect a mounted
//! system image.
//!
//! Rounding is the choice that matters. Rust's
//! [`std::thread::available_parallelism`] rounds down (1.5 CPUs gives 1
//! thread): it never lets threads wait for the next period, but leaves up
//! to one CPU of the quota unused, half of it at 1.5. OpenJDK, Go and
//! loky (joblib) round up, as here: for throughput-bound work such as
//! searching a large map, the whole quota is used, and the cost is threads
//! that sometimes wait out the rest of a period. Shares and weights
//! (`cpu.shares`, `cpu.weight`) are ignored: they only divide CPUs that
//! several groups want at once, and do not limit a group when the host is
//! idle (OpenJDK dropped them for the same reason).
//!
//! [`available_cpu_count`] reads two small files in `/proc` and two per
//! cgroup level: about 60 µs on a machine with a few dozen mounts. Call it
//! once per operation, not per item. Quotas, affinities and the override
//! are read at every call, never cached, since all three can change while
//! the program runs.
//!
//! # The override
//!
//! Python 3.13's `PYTHON_CPU_COUNT=N` (or `-X cpu_count=N`) replaces all of
//! these counts with `N`: it may exceed the hardware, and it skips the
//! affinity mask and the quota. `default` means no override. The free
//! functions of this module honour the environment variable, as an
//! [`Override`] read by [`Override::from_env`]: a value CPython would refuse
//! at start-up is ignored here. To refuse it, or to take the override from
//! somewhere else (the Python module passes `-X cpu_count`), build the
//! [`Override`] yourself and call its methods.
//!
//! ```
//! use safemmap::cpu::{self, Override};
//!
//! let workers = cpu::available_cpu_count();
//! assert!(workers >= 1);
//! assert!(workers <= cpu::process_cpu_count().unwrap_or(1).max(1));
//!
//! let four = Override::parse("4").unwrap();
//! assert_eq!(four.available_cpu_count(), 4);
//! assert_eq!(four.process_cpu_count(), Some(4));
//! assert!(Override::parse("0").is_err());
//! ```
//!
//! [gh-149452]: https://github.com/python/cpython/issues/149452

use std::fmt;
use std::fs;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use crate::sys;

/// The environment variable of CPython 3.13's override.
const VAR: &str = "PYTHON_CPU_COUNT";

/// The logical CPUs of the system, or the `PYTHON_CPU_COUNT` override;
/// `None` if unknown. CPython 3.13's `os.cpu_count()`.
pub fn cpu_count() -> Option<usize> {
    env_override().cpu_count()
}

/// The CPUs the calling thread may run on, or the `PYTHON_CPU_COUNT`
/// override; `None` if unknown. CPython 3.13's `os.process_cpu_count()`.
pub fn process_cpu_count() -> Option<usize> {
    env_override().process_cpu_count()
}

/// How many workers CPU-bound work should use: [`process_cpu_count`],
/// capped by the process's cgroup CPU quotas (rounded up) and, on Windows,
/// by its affinity mask; at least 1. The `PYTHON_CPU_COUNT` override wins.
pub fn available_cpu_count() -> usize {
    env_override().available_cpu_count()
}

/// The tightest CPU quota of the process's cgroups, in CPUs rounded up;
/// `None` without a quota (or outside Linux). No override applies.
pub fn cpu_quota() -> Option<usize> {
    sys::cgroup_root().and_then(cpu_quota_under)
}

/// [`cpu_quota`], reading `proc/self/cgroup`, `proc/self/mountinfo` and the
/// cgroup file systems' mount points under `root` instead of `/`.
pub fn cpu_quota_under(root: &Path) -> Option<usize> {
    let memberships = fs::read(root.join("proc/self/cgroup")).ok()?;
    let mountinfo = fs::read(root.join("proc/self/mountinfo")).ok()?;
    let mounts: Vec<Mount> = utf8_lines(&mountinfo).filter_map(Mount::parse).collect();
    let cpus = utf8_lines(&memberships)
        .filter_map(membership)
        .filter_map(|(hierarchy, cgroup)| {
            let (mount, relative) = mounts
                .iter()
                .filter(|mount| mount.hierarchy == hierarchy)
                .find_map(|mount| mount.locate(root, cgroup))?;
            Path::new(relative)
                .ancestors()
                .filter_map(|level| hierarchy.quota(&mount.join(level)))
                .min()
        })
        .min()?;
    Some(usize::try_from(cpus).unwrap_or(usize::MAX))
}

fn env_override() -> Override {
    Override::from_env().unwrap_or_default()
}

/// CPython 3.13's override of every CPU count: `PYTHON_CPU_COUNT=N` or
/// `-X cpu_count=N`. `Override(None)`, the default, is no override.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Override(pub Option<NonZeroUsize>);

impl Override {
    /// Parses a value by CPython's rules: `default` (no override), or a
    /// decimal integer from 1 to 2147483647, after optional ASCII white
    /// space and `+` (C's `strtol`), with nothing after it.
    pub fn parse(value: &str) -> Result<Self, InvalidOverride> {
        if value == "default" {
            return Ok(Self(None));
        }
        let number = value.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
        let digits = number.strip_prefix('+').unwrap_or(number);
        let count = Some(digits)
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse::<u32>().ok())
            .filter(|&count| count <= i32::MAX as u32)
            .and_then(|count| NonZeroUsize::new(count as usize));
        match count {
            Some(count) => Ok(Self(Some(count))),
            None => Err(InvalidOverride(value.to_owned())),
        }
    }

    /// The override in the environment variable `PYTHON_CPU_COUNT`, read
    /// now (CPython reads it once, at start-up). Unset or empty is none.
    pub fn from_env() -> Result<Self, InvalidOverride> {
        match std::env::var_os(VAR) {
            Some(value) if !value.is_empty() => match value.to_str() {
                Some(value) => Self::parse(value),
                None => Err(InvalidOverride(value.to_string_lossy().into_owned())),
            },
            _ => Ok(Self(None)),
        }
    }

    /// [`cpu_count`] under this override.
    pub fn cpu_count(self) -> Option<usize> {
        self.count().or_else(sys::online_cpus)
    }

    /// [`process_cpu_count`] under this override.
    pub fn process_cpu_count(self) -> Option<usize> {
        self.count()
            .or_else(sys::thread_affinity_cpus)
            .or_else(sys::online_cpus)
    }

    /// [`available_cpu_count`] under this override.
    pub fn available_cpu_count(self) -> usize {
        self.count().unwrap_or_else(|| {
            [
                self.process_cpu_count(),
                sys::process_affinity_cpus(),
                cpu_quota(),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(1)
        })
    }

    fn count(self) -> Option<usize> {
        self.0.map(NonZeroUsize::get)
    }
}

/// An override value CPython 3.13 refuses at start-up (with "n is missing
/// or an invalid number, n must be greater than 0").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidOverride(pub String);

impl fmt::Display for InvalidOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid CPU count {:?}: expected \"default\" or an integer from 1 to {}",
            self.0,
            i32::MAX
        )
    }
}

impl std::error::Error for InvalidOverride {}

/// The two kinds of cgroup file system, and how each writes a CPU quota.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hierarchy {
    V1,
    V2,
}

impl Hierarchy {
    /// The quota of the cgroup in `dir`, in CPUs rounded up.
    fn quota(self, dir: &Path) -> Option<u64> {
        let (quota, period) = match self {
            Self::V2 => {
                let max = fs::read_to_string(dir.join("cpu.max")).ok()?;
                let mut fields = max.lines().next()?.split_ascii_whitespace();
                (fields.next()?.parse().ok()?, fields.next()?.parse().ok()?)
            }
            Self::V1 => (
                read_number(&dir.join("cpu.cfs_quota_us"))?,
                read_number(&dir.join("cpu.cfs_period_us"))?,
            ),
        };
        (quota > 0 && period > 0).then(|| u64::div_ceil(quota, period))
    }
}

fn read_number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The lines of a file that are UTF-8 (a path that is not is not followed).
fn utf8_lines(bytes: &[u8]) -> impl Iterator<Item = &str> {
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok())
}

/// A line of `/proc/self/cgroup` (`ID:CONTROLLERS:PATH`) that places the
/// process in a hierarchy with a CPU quota: v2 (no controllers listed), or
/// v1 with the `cpu` controller.
fn membership(line: &str) -> Option<(Hierarchy, &str)> {
    let mut fields = line.splitn(3, ':');
    let controllers = fields.nth(1)?;
    let cgroup = fields.next()?;
    if controllers.is_empty() {
        Some((Hierarchy::V2, cgroup))
    } else if controllers.split(',').any(|c| c == "cpu") {
        Some((Hierarchy::V1, cgroup))
    } else {
        None
    }
}

/// A mounted cgroup file system, from a line of `/proc/self/mountinfo`.
struct Mount {
    hierarchy: Hierarchy,
    /// The cgroup shown at the mount point (`/` unless only part of the
    /// hierarchy is mounted, as in containers without a cgroup namespace).
    cgroup: String,
    point: String,
}

impl Mount {
    /// `ID PARENT MAJOR:MINOR ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPER_OPTIONS`
    fn parse(line: &str) -> Option<Self> {
        let (before, after) = line.split_once(" - ")?;
        let mut before = before.split(' ');
        let cgroup = before.nth(3)?;
        let point = before.next()?;
        let mut after = after.split(' ');
        let (kind, options) = (after.next()?, after.nth(1)?);
        let hierarchy = match kind {
            "cgroup2" => Hierarchy::V2,
            "cgroup" if options.split(',').any(|option| option == "cpu") => Hierarchy::V1,
            _ => return None,
        };
        Some(Self {
            hierarchy,
            cgroup: unescape(cgroup)?,
            point: unescape(point)?,
        })
    }

    /// Where this mount shows `cgroup` (a path of `/proc/self/cgroup`), if
    /// it does: the directory of the mount point, under `root`, and the
    /// cgroup's path below it, whose directory exists.
    fn locate<'a>(&self, root: &Path, cgroup: &'a str) -> Option<(PathBuf, &'a str)> {
        let below = cgroup.strip_prefix(self.cgroup.trim_end_matches('/'))?;
        let relative = match below {
            "" => below,
            _ => below.strip_prefix('/')?,
        };
        let point = root.join(self.point.trim_start_matches('/'));
        point.join(relative).is_dir().then_some((point, relative))
    }
}

/// Undoes mountinfo's escapes of space, tab, newline and backslash (`\ooo`).
fn unescape(field: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(field.len());
    let mut rest = field.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match tail {
            [a, b, c, ..]
                if first == b'\\' && [a, b, c].iter().all(|d| matches!(d, b'0'..=b'7')) =>
            {
                let code = [a, b, c]
                    .iter()
                    .fold(0u32, |code, &d| code * 8 + u32::from(d - b'0'));
                bytes.push(u8::try_from(code).ok()?);
                rest = &tail[3..];
            }
            _ => {
                bytes.push(first);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}
