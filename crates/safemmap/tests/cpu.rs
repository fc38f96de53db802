//! CPU counts: CPython 3.13's rules for the override and the affinity mask,
//! cgroup quotas read from fixture trees, and a real cgroup v1 quota where
//! the test runs as root.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use safemmap::cpu::{self, InvalidOverride, Override};

fn count(n: usize) -> Override {
    Override(Some(NonZeroUsize::new(n).unwrap()))
}

#[test]
fn the_override_parses_as_cpython_3_13_parses_it() {
    // Checked against CPython 3.13.0, for both PYTHON_CPU_COUNT and
    // -X cpu_count (where an empty value is refused; an empty variable is
    // unset, see `the_override_comes_from_python_cpu_count`).
    for (value, expected) in [
        ("4", Some(4)),
        (" 4", Some(4)),
        ("\t\n\x0b\x0c\r3", Some(3)),
        ("+4", Some(4)),
        ("004", Some(4)),
        ("2147483647", Some(2147483647)),
        ("default", None),
    ] {
        assert_eq!(
            Override::parse(value),
            Ok(Override(expected.and_then(NonZeroUsize::new))),
            "{value:?}"
        );
    }
    for value in [
        "",
        " ",
        "+",
        "0",
        "-0",
        "-1",
        "+-4",
        "++4",
        "4 ",
        "4\n",
        "0x4",
        "1_0",
        "4.0",
        "1e3",
        "2147483648",
        "99999999999999999999",
        "Default",
        "DEFAULT",
        " default",
        "\u{663}",
        "\u{a0}4",
    ] {
        assert_eq!(
            Override::parse(value),
            Err(InvalidOverride(value.to_owned())),
            "{value:?}"
        );
    }
    assert_eq!(
        InvalidOverride("0".into()).to_string(),
        "invalid CPU count \"0\": expected \"default\" or an integer from 1 to 2147483647"
    );
}

#[test]
fn an_override_replaces_every_count_and_may_exceed_the_hardware() {
    let many = count(4096);
    assert_eq!(many.cpu_count(), Some(4096));
    assert_eq!(many.process_cpu_count(), Some(4096));
    assert_eq!(many.available_cpu_count(), 4096);
    assert_eq!(count(1).available_cpu_count(), 1);
}

#[test]
fn without_an_override_the_counts_nest() {
    let none = Override(None);
    let system = none.cpu_count().expect("a CPU count");
    let process = none.process_cpu_count().expect("a process CPU count");
    let available = none.available_cpu_count();
    assert!(1 <= available && available <= process && process <= system);
    if cpu::cpu_quota().is_none() {
        // No quota: Rust's rule and ours agree.
        let std = std::thread::available_parallelism().unwrap().get();
        assert_eq!(available, std);
    }
    #[cfg(target_os = "linux")]
    assert_eq!(cpu::cpu_quota(), cpu::cpu_quota_under(Path::new("/")));
}

/// The counts a fresh process prints: see `child`.
#[derive(Debug, PartialEq)]
struct Counts {
    cpu: usize,
    process: usize,
    available: usize,
    /// `std::thread::available_parallelism`.
    std: usize,
    /// Whether `Override::from_env` accepted PYTHON_CPU_COUNT.
    valid: bool,
}

/// A command that runs this test binary again as `child`, without
/// PYTHON_CPU_COUNT, after the words of `wrapper` (such as `taskset -c 0`).
fn child_command(wrapper: &[&str], override_var: Option<&str>) -> Command {
    let mut command = common::this_test_binary(wrapper);
    command
        .args(["child", "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env("SAFEMMAP_CPU_CHILD", "1")
        .env_remove("PYTHON_CPU_COUNT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some(value) = override_var {
        command.env("PYTHON_CPU_COUNT", value);
    }
    command
}

/// Runs a child; `before_start` gets it before it measures anything.
fn counts_of(mut command: Command, before_start: impl FnOnce(&Child)) -> Counts {
    let mut child = command.spawn().unwrap();
    before_start(&child);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{output}");
    let line = output
        .lines()
        .find_map(|line| line.strip_prefix("COUNTS "))
        .unwrap_or_else(|| panic!("no counts in {output:?}"));
    let numbers: Vec<usize> = line.split(' ').map(|n| n.parse().unwrap()).collect();
    Counts {
        cpu: numbers[0],
        process: numbers[1],
        available: numbers[2],
        std: numbers[3],
        valid: numbers[4] == 1,
    }
}

fn counts(wrapper: &[&str], override_var: Option<&str>) -> Counts {
    counts_of(child_command(wrapper, override_var), |_| {})
}

/// Not a test: what the other tests run in a child process. It waits for a
/// line on stdin (so that it can be moved into a cgroup first), then prints
/// its counts (0 for none).
#[test]
fn child() {
    if std::env::var_os("SAFEMMAP_CPU_CHILD").is_none() {
        return;
    }
    BufReader::new(std::io::stdin())
        .read_line(&mut String::new())
        .unwrap();
    println!(
        "COUNTS {} {} {} {} {}",
        cpu::cpu_count().unwrap_or(0),
        cpu::process_cpu_count().unwrap_or(0),
        cpu::available_cpu_count(),
        std::thread::available_parallelism().map_or(0, NonZeroUsize::get),
        u8::from(Override::from_env().is_ok()),
    );
}

#[test]
fn the_override_comes_from_python_cpu_count() {
    let plain = counts(&[], None);
    assert!(plain.valid);
    assert_eq!(plain.cpu, Override(None).cpu_count().unwrap());
    for ignored in ["", "default"] {
        assert_eq!(counts(&[], Some(ignored)), plain, "{ignored:?}");
    }
    let five = counts(&[], Some("5"));
    assert_eq!(
        (five.cpu, five.process, five.available, five.valid),
        (5, 5, 5, true)
    );
    // CPython would refuse to start; the free functions ignore it.
    for invalid in ["0", "abc", "4 "] {
        let counts = counts(&[], Some(invalid));
        assert!(!counts.valid, "{invalid:?}");
        assert_eq!(
            counts,
            Counts {
                valid: false,
                ..plain
            },
            "{invalid:?}"
        );
    }
}

#[cfg(target_os = "linux")]
mod affinity {
    use super::*;

    fn taskset() -> bool {
        let found = Command::new("taskset").arg("-V").output().is_ok();
        if !found {
            eprintln!("skipped: no taskset");
        }
        found
    }

    #[test]
    fn taskset_restricts_the_process_count_not_the_system_count() {
        if !taskset() {
            return;
        }
        let system = Override(None).cpu_count().unwrap();
        let one = counts(&["taskset", "-c", "0"], None);
        assert_eq!(
            (one.cpu, one.process, one.available, one.std),
            (system, 1, 1, 1)
        );
        // The override skips the affinity mask, as in CPython.
        let five = counts(&["taskset", "-c", "0"], Some("5"));
        assert_eq!((five.cpu, five.process, five.available), (5, 5, 5));
    }

    fn mask_of_this_thread() -> libc::cpu_set_t {
        // SAFETY: an all-zero cpu_set_t is an empty set; the call writes at
        // most its size.
        unsafe {
            let mut set = std::mem::zeroed();
            let ret = libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set);
            assert_eq!(ret, 0, "{}", std::io::Error::last_os_error());
            set
        }
    }

    fn set_mask_of_this_thread(set: &libc::cpu_set_t) {
        // SAFETY: pid 0 is the calling thread; the set is fully initialised.
        let ret = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), set) };
        assert_eq!(ret, 0, "{}", std::io::Error::last_os_error());
    }

    #[test]
    fn a_thread_that_restricts_itself_sees_fewer_cpus_than_its_siblings() {
        let all = mask_of_this_thread();
        // SAFETY: CPU_COUNT and CPU_ISSET only read the set.
        let (cpus, first) = unsafe {
            let cpus = libc::CPU_COUNT(&all) as usize;
            let first = (0..libc::CPU_SETSIZE as usize).find(|&cpu| libc::CPU_ISSET(cpu, &all));
            (cpus, first.unwrap())
        };
        let none = Override(None);
        assert_eq!(none.process_cpu_count(), Some(cpus));

        let (restricted, restored) = std::thread::spawn(move || {
            let mut one = all;
            // SAFETY: CPU_ZERO and CPU_SET only write the set.
            unsafe {
                libc::CPU_ZERO(&mut one);
                libc::CPU_SET(first, &mut one);
            }
            set_mask_of_this_thread(&one);
            let restricted = (
                none.cpu_count(),
                none.process_cpu_count(),
                none.available_cpu_count(),
            );
            set_mask_of_this_thread(&all);
            (restricted, none.process_cpu_count())
        })
        .join()
        .unwrap();

        assert_eq!(restricted, (none.cpu_count(), Some(1), 1));
        assert_eq!(restored, Some(cpus));
        assert_eq!(none.process_cpu_count(), Some(cpus));
    }

    const CONTROLLER: &str = "/sys/fs/cgroup/cpu";
    const PERIOD: u64 = 100_000;

    /// A cgroup v1 group of the `cpu` controller, removed on drop (quota
    /// back to -1, any process left in it moved to the root group), even
    /// when the test fails.
    struct Group(std::path::PathBuf);

    impl Group {
        fn create() -> std::io::Result<Self> {
            let path = Path::new(CONTROLLER).join(format!("safemmap-test-{}", std::process::id()));
            fs::create_dir(&path)?;
            Ok(Self(path))
        }

        fn write(&self, file: &str, value: impl ToString) {
            fs::write(self.0.join(file), value.to_string()).unwrap();
        }
    }

    impl Drop for Group {
        fn drop(&mut self) {
            let _ = fs::write(self.0.join("cpu.cfs_quota_us"), "-1");
            let procs = fs::read_to_string(self.0.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.split_whitespace() {
                let _ = fs::write(Path::new(CONTROLLER).join("cgroup.procs"), pid);
            }
            if let Err(err) = fs::remove_dir(&self.0) {
                eprintln!("could not remove {}: {err}", self.0.display());
            }
        }
    }

    #[test]
    fn a_real_cgroup_v1_quota_caps_the_available_count() {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root || !Path::new(CONTROLLER).join("cpu.cfs_quota_us").is_file() {
            eprintln!("skipped: needs root and cgroup v1's cpu controller at {CONTROLLER}");
            return;
        }
        let group = match Group::create() {
            Ok(group) => group,
            Err(err) => {
                eprintln!("skipped: cannot create a cgroup under {CONTROLLER}: {err}");
                return;
            }
        };
        let process = Override(None).process_cpu_count().unwrap() as u64;
        group.write("cpu.cfs_period_us", PERIOD);
        for quota in [50_000u64, 100_000, 150_000, 200_000, 300_000] {
            group.write("cpu.cfs_quota_us", quota);
            let counts = counts_of(child_command(&[], None), |child| {
                group.write("cgroup.procs", child.id());
            });
            let ceil = quota.div_ceil(PERIOD).min(process) as usize;
            let floor = (quota / PERIOD).clamp(1, process) as usize;
            println!(
                "quota {quota}/{PERIOD} on {process} CPUs: available_cpu_count {}, \
                 available_parallelism {}, process_cpu_count {}",
                counts.available, counts.std, counts.process
            );
            assert_eq!(counts.process, process as usize);
            assert_eq!(counts.available, ceil, "quota {quota}");
            // Rust rounds down; where rounding does not matter, we agree.
            assert_eq!(counts.std, floor, "quota {quota}");
            if ceil == floor {
                assert_eq!(counts.available, counts.std);
            }
        }
        drop(group);
        assert!(!Path::new(CONTROLLER)
            .join(format!("safemmap-test-{}", std::process::id()))
            .exists());
    }
}

#[test]
#[cfg(windows)]
fn a_windows_process_affinity_mask_caps_only_the_available_count() {
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::System::Threading::SetProcessAffinityMask;

    let system = Override(None).cpu_count().unwrap();
    let counts = counts_of(child_command(&[], None), |child| {
        // SAFETY: the handle is the live child's; mask 1 is the first CPU.
        let ok = unsafe { SetProcessAffinityMask(child.as_raw_handle(), 1) };
        assert_ne!(ok, 0, "{}", std::io::Error::last_os_error());
    });
    // CPython ignores the mask; available_cpu_count does not.
    assert_eq!(
        (counts.cpu, counts.process, counts.available),
        (system, system, 1)
    );
}

/// A fixture tree: `proc/self/cgroup`, `proc/self/mountinfo` and cgroup
/// files under a temporary root.
struct Tree(tempfile::TempDir);

/// mountinfo lines as Linux writes them.
const ROOT_FS: &str = "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw";
const V2: &str = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot";
const V1_CPU: &str = "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct";
const V1_MEMORY: &str = "35 31 0:32 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory";
const V1_CPUSET: &str = "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset";
const HYBRID_V2: &str = "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";

impl Tree {
    fn new(cgroup: &str, mountinfo: &[&str]) -> Self {
        let tree = Self(tempfile::tempdir().unwrap());
        tree.file("proc/self/cgroup", cgroup);
        tree.file("proc/self/mountinfo", &(mountinfo.join("\n") + "\n"));
        tree
    }

    fn file(&self, path: &str, contents: &str) -> &Self {
        let path = self.0.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
        self
    }

    fn dir(&self, path: &str) -> &Self {
        fs::create_dir_all(self.0.path().join(path)).unwrap();
        self
    }

    fn quota(&self) -> Option<usize> {
        cpu::cpu_quota_under(self.0.path())
    }
}

fn v2(cpu_max: &str) -> Option<usize> {
    Tree::new("0::/app/web\n", &[ROOT_FS, V2])
        .file("sys/fs/cgroup/app/web/cpu.max", cpu_max)
        .quota()
}

fn v1(quota: &str, period: &str) -> Option<usize> {
    Tree::new("4:cpu,cpuacct:/batch/job\n", &[V1_CPU])
        .file(
            "sys/fs/cgroup/cpu,cpuacct/batch/job/cpu.cfs_quota_us",
            quota,
        )
        .file(
            "sys/fs/cgroup/cpu,cpuacct/batch/job/cpu.cfs_period_us",
            period,
        )
        .quota()
}

#[test]
fn cgroup_v2_quotas_round_up() {
    assert_eq!(v2("150000 100000\n"), Some(2));
    assert_eq!(v2("200000 100000\n"), Some(2));
    assert_eq!(v2("200001 100000\n"), Some(3));
    assert_eq!(v2("100000 100000\n"), Some(1));
    assert_eq!(v2("50000 100000\n"), Some(1));
    assert_eq!(v2("1000 100000\n"), Some(1));
    assert_eq!(v2("75000 50000\n"), Some(2));
    assert_eq!(v2("max 100000\n"), None);
    assert_eq!(v2("18446744073709551615 1\n"), Some(usize::MAX));
}

#[test]
fn cgroup_v1_quotas_round_up() {
    assert_eq!(v1("150000\n", "100000\n"), Some(2));
    assert_eq!(v1("50000", "100000"), Some(1));
    assert_eq!(v1("400000\n", "100000\n"), Some(4));
    assert_eq!(v1("-1\n", "100000\n"), None);
}

#[test]
fn garbage_in_cgroup_files_is_no_quota() {
    for garbage in [
        "",
        "\n",
        "lots\n",
        "150000\n",
        "150000 lots\n",
        "-5 100000\n",
        "0 100000\n",
        "100000 0\n",
        "1.5 1\n",
        "\u{fffd}\n",
    ] {
        assert_eq!(v2(garbage), None, "{garbage:?}");
    }
    for (quota, period) in [
        ("lots", "100000"),
        ("150000", "lots"),
        ("0", "100000"),
        ("150000", "0"),
        ("", ""),
        ("-2", "100000"),
        ("99999999999999999999999", "1"),
    ] {
        assert_eq!(v1(quota, period), None, "{quota:?} {period:?}");
    }
    for cgroup in ["", "garbage\n", "0:/app/web\n", "\u{0}\u{0}\n"] {
        let tree = Tree::new(cgroup, &[ROOT_FS, V2]);
        tree.file("sys/fs/cgroup/app/web/cpu.max", "100000 100000\n");
        tree.file("sys/fs/cgroup/cpu.max", "100000 100000\n");
        assert_eq!(tree.quota(), None, "{cgroup:?}");
    }
    let mountinfo = [
        "",
        "garbage",
        "1 2 3 - cgroup2",
        "1 2 3 4 5 6 - cgroup2",
        r"40 22 0:40 / /sys/fs/cgroup\777 rw - cgroup2 cgroup2 rw",
    ];
    let tree = Tree::new("0::/\n", &mountinfo);
    tree.file("sys/fs/cgroup/cpu.max", "100000 100000\n");
    assert_eq!(tree.quota(), None);
    // Garbage at one level does not hide a quota above it.
    let tree = Tree::new("0::/app/web\n", &[ROOT_FS, V2]);
    tree.file("sys/fs/cgroup/app/web/cpu.max", "lots\n")
        .file("sys/fs/cgroup/app/cpu.max", "300000 100000\n");
    assert_eq!(tree.quota(), Some(3));
}

#[test]
fn missing_files_are_no_quota() {
    assert_eq!(
        cpu::cpu_quota_under(Path::new("/nonexistent/safemmap")),
        None
    );
    let tree = Tree::new("0::/app/web\n", &[ROOT_FS, V2]);
    tree.dir("sys/fs/cgroup/app/web");
    assert_eq!(tree.quota(), None, "no cpu.max anywhere");
    // The cgroup's directory is missing: nothing is read, not even above.
    let tree = Tree::new("0::/app/web\n", &[ROOT_FS, V2]);
    tree.file("sys/fs/cgroup/app/cpu.max", "100000 100000\n");
    assert_eq!(tree.quota(), None);
    // A v1 group without cpu.cfs_period_us.
    let tree = Tree::new("4:cpu:/job\n", &[V1_CPU]);
    tree.file("sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us", "50000");
    assert_eq!(tree.quota(), None);
    // No mountinfo, or no /proc/self/cgroup.
    let tree = Tree::new("0::/\n", &[ROOT_FS, V2]);
    tree.file("sys/fs/cgroup/cpu.max", "100000 100000\n");
    assert_eq!(tree.quota(), Some(1));
    fs::remove_file(tree.0.path().join("proc/self/mountinfo")).unwrap();
    assert_eq!(tree.quota(), None);
    let tree = Tree::new("0::/\n", &[ROOT_FS, V2]);
    tree.file("sys/fs/cgroup/cpu.max", "100000 100000\n");
    fs::remove_file(tree.0.path().join("proc/self/cgroup")).unwrap();
    assert_eq!(tree.quota(), None);
}

#[test]
fn the_tightest_level_wins() {
    let tree = Tree::new("0::/app/web/worker\n", &[ROOT_FS, V2]);
    tree.file("sys/fs/cgroup/app/web/worker/cpu.max", "400000 100000\n")
        .file("sys/fs/cgroup/app/web/cpu.max", "max 100000\n")
        .file("sys/fs/cgroup/app/cpu.max", "150000 100000\n");
    assert_eq!(tree.quota(), Some(2));
    tree.file("sys/fs/cgroup/cpu.max", "50000 100000\n");
    assert_eq!(tree.quota(), Some(1), "the mount point's own cgroup counts");

    let tree = Tree::new("4:cpu,cpuacct:/batch/job\n", &[V1_CPU]);
    let dir = "sys/fs/cgroup/cpu,cpuacct";
    tree.file(&format!("{dir}/batch/job/cpu.cfs_quota_us"), "-1")
        .file(&format!("{dir}/batch/job/cpu.cfs_period_us"), "100000")
        .file(&format!("{dir}/batch/cpu.cfs_quota_us"), "250000")
        .file(&format!("{dir}/batch/cpu.cfs_period_us"), "100000")
        .file(&format!("{dir}/cpu.cfs_quota_us"), "-1")
        .file(&format!("{dir}/cpu.cfs_period_us"), "100000");
    assert_eq!(tree.quota(), Some(3));
}

#[test]
fn v1_and_v2_memberships_are_both_followed() {
    // A hybrid system: v1 controllers, and v2 mounted without the cpu
    // controller (no cpu.max).
    let cgroup = "9:name=systemd:/user\n4:memory:/mem\n3:cpuset:/\n1:cpu:/job\n0::/user\n";
    let mounts = [ROOT_FS, V1_MEMORY, V1_CPUSET, V1_CPU, HYBRID_V2];
    let tree = Tree::new(cgroup, &mounts);
    tree.dir("sys/fs/cgroup/unified/user")
        .file("sys/fs/cgroup/memory/mem/cpu.cfs_quota_us", "100000")
        .file("sys/fs/cgroup/memory/mem/cpu.cfs_period_us", "100000");
    assert_eq!(tree.quota(), None, "only the cpu controller's files count");
    tree.file("sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_quota_us", "350000")
        .file("sys/fs/cgroup/cpu,cpuacct/job/cpu.cfs_period_us", "100000");
    assert_eq!(tree.quota(), Some(4));
    tree.file("sys/fs/cgroup/unified/cpu.max", "200000 100000");
    assert_eq!(tree.quota(), Some(2));
}

#[test]
fn partial_mounts_unusual_mount_points_and_escapes() {
    // A container without a cgroup namespace: only its own part of the
    // hierarchy is mounted, at the controller's usual place.
    let docker = "1200 1100 0:29 /docker/abc /sys/fs/cgroup/cpu ro,nosuid - cgroup cgroup rw,cpu";
    let elsewhere = "1201 1100 0:29 /docker/other /mnt/other rw - cgroup cgroup rw,cpu";
    let tree = Tree::new("3:cpu:/docker/abc\n", &[elsewhere, docker]);
    tree.dir("mnt/other/abc")
        .file("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000\n")
        .file("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    assert_eq!(tree.quota(), Some(1));
    // A cgroup beside the mounted one is not shown by it.
    let tree = Tree::new("3:cpu:/docker/abcd\n", &[docker]);
    tree.file("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000\n")
        .file("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    assert_eq!(tree.quota(), None);

    // cgroup2 mounted somewhere unusual, with a space in its path and in
    // the cgroup's name, and several optional fields before " - ".
    let odd =
        r"40 22 0:40 / /run/my\040cgroups rw shared:5 master:2 propagate_from:1 - cgroup2 none rw";
    let tree = Tree::new("0::/my app\n", &[ROOT_FS, odd]);
    tree.file("run/my cgroups/my app/cpu.max", "250000 100000\n");
    assert_eq!(tree.quota(), Some(3));
    // A path with a backslash (\134) and a line that is not UTF-8 elsewhere.
    let backslash = r"41 22 0:41 / /cg\134roups rw - cgroup2 cgroup2 rw";
    let tree = Tree::new("0::/\n", &[ROOT_FS, "\u{fffd}", backslash]);
    tree.file("cg\\roups/cpu.max", "100000 100000\n");
    let mountinfo = tree.0.path().join("proc/self/mountinfo");
    let mut bytes = b"7 1 0:1 / /\xff rw - ext4 x rw\n".to_vec();
    bytes.extend(fs::read(&mountinfo).unwrap());
    fs::write(&mountinfo, bytes).unwrap();
    #[cfg(unix)] // a backslash is a separator on Windows
    assert_eq!(tree.quota(), Some(1));
}
