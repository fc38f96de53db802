"""Everything that is not a fault of safemmap's behaves as if safemmap were
not loaded: faulthandler in any order, SIGSEGV sent with kill and friends,
C libraries whose handlers siglongjmp out of a probe, fork while threads
scan, and thousands of threads (issue 12).

Each case runs in a child process; most run the same program twice, with
safemmap's handler installed (a map of a file) and with only the stdlib's
mmap, and compare what happened. The Rust side of these cases is
crates/safemmap/tests/coexist.rs.
"""

import faulthandler
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="Linux signal behaviour")

# A child's prelude. WITH: safemmap is imported and `first_map()` maps a
# file with it, which installs its handler; without, the same program uses
# the stdlib's mmap. `expect_fault()` (with safemmap only) reads and
# searches past the end of a file cut short, through a map made before.
PRELUDE = """
import ctypes, errno, faulthandler, os, signal, sys, tempfile, threading
WITH = {with_safemmap}
if WITH:
    import safemmap as mmap
else:
    import mmap
PAGE = mmap.PAGESIZE
fd, path = tempfile.mkstemp()
os.unlink(path)
os.write(fd, b"x" * (2 * PAGE))
maps = []

def first_map():
    maps.append(mmap.mmap(fd, 0))

def expect_fault(m=None):
    if not WITH:
        return
    m = m or maps[0]
    os.ftruncate(fd, PAGE)
    try:
        for operation in (lambda: m[PAGE], lambda: m.find(b"zz")):
            try:
                operation()
            except OSError as err:
                assert err.errno == errno.EIO, err
            else:
                raise AssertionError("no fault")
    finally:
        os.ftruncate(fd, 2 * PAGE)

def say(*what):
    print(*what, flush=True)
"""


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_child(code, *python_options, env=None, timeout=60):
    """Runs code in a fresh interpreter with faulthandler off unless env
    turns it on, no core files, and a time limit (a hang fails the test)."""
    child_env = {k: v for k, v in os.environ.items() if k != "PYTHONFAULTHANDLER"}
    child_env.update(env or {})
    return subprocess.run(
        [sys.executable, *python_options, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=child_env,
        timeout=timeout,
        preexec_fn=no_core_dumps,
    )


def with_and_without(body, *python_options, env=None):
    """The program run with safemmap and with the stdlib only."""
    return [
        run_child(PRELUDE.format(with_safemmap=flag) + textwrap.dedent(body), *python_options, env=env)
        for flag in (True, False)
    ]


def outcome(child):
    """What a comparison looks at: the status, what the program said, and
    how many crash reports faulthandler printed."""
    return child.returncode, child.stdout, child.stderr.count("Fatal Python error")


# --- 1. faulthandler, enabled and disabled in every order -------------------

# Steps, run in order by the child before it crashes.
STEPS = {
    "map": "first_map()",
    "enable": "faulthandler.enable()",
    "disable": "faulthandler.disable()",
    "fault": "expect_fault(); say('fault raised')",
}

# How the child dies, and of which signal.
CRASHES = {
    # raise(SIGSEGV) in C, after faulthandler's own crash-report suppression
    "_sigsegv": ("faulthandler._sigsegv()", signal.SIGSEGV),
    # a read through ctypes of an unmapped address
    "string_at": ("ctypes.string_at(16)", signal.SIGSEGV),
    "string_at-on-a-thread": (
        "crasher = threading.Thread(target=ctypes.string_at, args=(16,))\ncrasher.start()\ncrasher.join()",
        signal.SIGSEGV,
    ),
    # past the end of a file cut short, through the stdlib's map
    "cut-stdlib-map": (
        "import mmap as std_mmap\n"
        "std = std_mmap.mmap(fd, 0)\n"
        "os.ftruncate(fd, PAGE)\n"
        "ctypes.string_at(ctypes.addressof(ctypes.c_char.from_buffer(std, PAGE)), 1)",
        signal.SIGBUS,
    ),
    "kill": ("os.kill(os.getpid(), signal.SIGSEGV)", signal.SIGSEGV),
}

if hasattr(faulthandler, "_read_null"):  # gone in 3.15
    # a read of address 0 in C: a real fault
    CRASHES["_read_null"] = ("faulthandler._read_null()", signal.SIGSEGV)

# (python options, environment, steps, faulthandler reports expected)
ORDERS = {
    "map-enable": ((), None, ["map", "enable", "fault"], 1),
    "enable-map": ((), None, ["enable", "map", "fault"], 1),
    "enable-disable-enable-map": ((), None, ["enable", "disable", "enable", "map", "fault"], 1),
    "map-enable-disable-enable": ((), None, ["map", "enable", "disable", "enable", "fault"], 1),
    "enable-map-disable-enable": ((), None, ["enable", "map", "disable", "fault", "enable", "fault"], 1),
    "X-faulthandler": (("-X", "faulthandler"), None, ["map", "fault"], 1),
    "X-faulthandler-enable-again": (("-X", "faulthandler"), None, ["map", "enable", "fault"], 1),
    "PYTHONFAULTHANDLER": ((), {"PYTHONFAULTHANDLER": "1"}, ["map", "fault"], 1),
    "map-enable-disable": ((), None, ["map", "enable", "disable", "fault"], 0),
    "enable-map-disable": ((), None, ["enable", "map", "disable", "fault"], 0),
    "X-faulthandler-disable": (("-X", "faulthandler"), None, ["map", "disable", "fault"], 0),
    "PYTHONFAULTHANDLER-disable": ((), {"PYTHONFAULTHANDLER": "1"}, ["map", "disable", "fault"], 0),
}


@pytest.mark.parametrize("crash", sorted(CRASHES))
@pytest.mark.parametrize("order", list(ORDERS))
def test_faulthandler_in_any_order_reports_a_crash_as_without_safemmap(order, crash):
    """The process dies of its signal with at most one crash report, as it
    does without safemmap, never hangs; safemmap's faults raise OSError at
    each point, faulthandler enabled or not."""
    options, env, steps, reports = ORDERS[order]
    code, signum = CRASHES[crash]
    body = "\n".join(STEPS[step] for step in steps) + f"\n{code}\nsay('survived')\n"
    with_, without = with_and_without(body, *options, env=env)
    assert with_.returncode == -signum, with_.stderr
    assert with_.stdout == "fault raised\n" * steps.count("fault"), with_.stderr
    assert with_.stderr.count("Fatal Python error") == reports, with_.stderr
    assert outcome(with_) == outcome(without), (with_.stderr, without.stderr)


# --- 2. SIGSEGV and SIGBUS sent, not raised by a fault ----------------------

TRIGGERS = {
    "kill": "os.kill(os.getpid(), SIGNAL)",
    "raise_signal": "signal.raise_signal(SIGNAL)",
    "pthread_kill": "signal.pthread_kill(threading.get_ident(), SIGNAL)",
}

# What is installed for the signal, and when: before safemmap's first map,
# or after it, then put under safemmap's by another map of a file.
DISPOSITIONS = {
    "handler-before": "signal.signal(SIGNAL, handler)\nfirst_map()",
    "handler-after": "first_map()\nsignal.signal(SIGNAL, handler)\nfirst_map()",
    "ignored-before": "signal.signal(SIGNAL, signal.SIG_IGN)\nfirst_map()",
    "ignored-after": "first_map()\nsignal.signal(SIGNAL, signal.SIG_IGN)\nfirst_map()",
}

SENT = """
SIGNAL = signal.{signal}
calls = []

def handler(signum, frame):
    calls.append(signum)

{disposition}
for round in range(3):
    for name, trigger in [{triggers}]:
        trigger()
        say(name, len(calls))
        expect_fault(maps[-1])
say("alive")
"""


@pytest.mark.parametrize("signame", ["SIGSEGV", "SIGBUS"])
@pytest.mark.parametrize("disposition", list(DISPOSITIONS))
def test_a_sent_signal_reaches_a_python_handler_or_is_ignored(disposition, signame):
    """A Python handler runs once per signal sent, by each way of sending,
    and the process lives; an ignored signal is dropped. safemmap's faults
    still raise OSError in between."""
    triggers = ", ".join(f"({name!r}, lambda: {code})" for name, code in TRIGGERS.items())
    body = SENT.format(signal=signame, disposition=DISPOSITIONS[disposition], triggers=triggers)
    with_, without = with_and_without(body)
    handled = disposition.startswith("handler")
    expected = "".join(
        f"{name} {3 * round + index + 1 if handled else 0}\n"
        for round in range(3)
        for index, name in enumerate(TRIGGERS)
    )
    assert (with_.returncode, with_.stdout, with_.stderr) == (0, expected + "alive\n", "")
    assert outcome(with_) == outcome(without)


@pytest.mark.parametrize("signame", ["SIGSEGV", "SIGBUS"])
@pytest.mark.parametrize("trigger", list(TRIGGERS))
def test_a_sent_signal_with_the_default_action_kills(trigger, signame):
    body = f"SIGNAL = signal.{signame}\nfirst_map()\nexpect_fault()\n{TRIGGERS[trigger]}\nsay('survived')\n"
    with_, without = with_and_without(body)
    assert with_.returncode == -getattr(signal, signame), with_.stderr
    assert with_.stdout == ""
    assert outcome(with_) == outcome(without)


# --- 3. A C library whose handler siglongjmps out of memory probes ----------

PROBE_C = r"""
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>

static __thread sigjmp_buf probe_jump;
static __thread volatile sig_atomic_t probing;

static void on_fault(int signum, siginfo_t *info, void *context)
{
    (void)info;
    (void)context;
    if (probing) {
        probing = 0;
        siglongjmp(probe_jump, 1);
    }
    /* Not a probe: crash as if never installed. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(signum, &dfl, NULL);
}

int install_probe_handler(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_fault;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGSEGV, &action, NULL) | sigaction(SIGBUS, &action, NULL);
}

static const volatile char *peek_at;
static volatile sig_atomic_t peeked;

static void on_profiling_tick(int signum)
{
    (void)signum;
    if (peek_at && !peeked) {
        peeked = 1;
        (void)*peek_at;
    }
}

/* Reads *addr once, from a SIGPROF handler, at a profiling tick. */
int peek_from_a_signal_handler(const volatile char *addr)
{
    struct sigaction action;
    struct itimerval every = {{0, 200}, {0, 200}};
    peek_at = addr;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_profiling_tick;
    sigemptyset(&action.sa_mask);
    return sigaction(SIGPROF, &action, NULL) | setitimer(ITIMER_PROF, &every, NULL);
}

int peeked_yet(void)
{
    return peeked;
}

/* 1 if reading addr faulted, 0 if not. */
int probe(const volatile char *addr)
{
    if (sigsetjmp(probe_jump, 1))
        return 1;
    probing = 1;
    (void)*addr;
    probing = 0;
    return 0;
}
"""


@pytest.fixture(scope="module")
def probe_library(tmp_path_factory):
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler")
    directory = tmp_path_factory.mktemp("probe")
    source = directory / "probe.c"
    source.write_text(PROBE_C)
    library = directory / "probe.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source)], check=True)
    return str(library)


# Probes of an unmapped address (SIGSEGV) and of a page past the end of a
# file cut short, through the stdlib's map (SIGBUS), on 4 threads, while
# another thread's safemmap faults raise OSError.
PROBES = """
import ctypes, mmap as std_mmap
probes = ctypes.CDLL({library!r})
probes.probe.argtypes = [ctypes.c_void_p]
{order}
cut_fd, cut_path = tempfile.mkstemp()
os.unlink(cut_path)
os.ftruncate(cut_fd, 2 * PAGE)
std = std_mmap.mmap(cut_fd, 0)
cut_page = ctypes.addressof(ctypes.c_char.from_buffer(std, PAGE))
os.ftruncate(cut_fd, PAGE)
good = ctypes.addressof(ctypes.c_char.from_buffer(std, 0))
ROUNDS = 5000
results = []

def prober():
    faulted = sum(probes.probe(16) + probes.probe(cut_page) for _ in range(ROUNDS))
    results.append((faulted, probes.probe(good)))

def faulter():
    for _ in range(2000):
        expect_fault(maps[-1])

threads = [threading.Thread(target=prober) for _ in range(4)] + [threading.Thread(target=faulter)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
say(results)
say(probes.probe(16), probes.probe(cut_page), probes.probe(good))
expect_fault()
{after}
"""

PROBE_ORDERS = {
    "probe-first": "assert probes.install_probe_handler() == 0\nfirst_map()",
    # another map of a file puts safemmap's handler back on top
    "safemmap-first": "first_map()\nassert probes.install_probe_handler() == 0\nfirst_map()",
    "faulthandler-probe-safemmap": "faulthandler.enable()\nassert probes.install_probe_handler() == 0\nfirst_map()",
}


@pytest.mark.parametrize("order", list(PROBE_ORDERS))
def test_probes_that_siglongjmp_out_work_on_four_threads(probe_library, order):
    body = PROBES.format(library=probe_library, order=PROBE_ORDERS[order], after="")
    with_, without = with_and_without(body)
    expected = f"{[(2 * 5000, 0)] * 4}\n1 1 0\n"
    assert (with_.returncode, with_.stdout, with_.stderr) == (0, expected, "")
    assert outcome(with_) == outcome(without)


def test_a_signal_handler_that_faults_inside_a_guarded_call_is_not_resumed_there(probe_library):
    """A profiling signal handler in another library reads a lost page of a
    map while the interrupted thread searches that map inside a guarded
    call: the handler's fault is not safemmap's (its code is neither
    safemmap's nor the C library's), so the process dies of SIGBUS, as it
    would without safemmap, instead of the handler being abandoned and the
    search failing in its place."""
    child = run_child(
        PRELUDE.format(with_safemmap=True)
        + f"""
import time
probes = ctypes.CDLL({probe_library!r})
probes.peek_from_a_signal_handler.argtypes = [ctypes.c_void_p]
big_fd, big_path = tempfile.mkstemp()
os.unlink(big_path)
os.ftruncate(big_fd, 16 << 20)
m = mmap.mmap(big_fd, 0)
os.ftruncate(big_fd, 12 << 20)
lost = ctypes.addressof(ctypes.c_char.from_buffer(m, 13 << 20))
probes.peek_from_a_signal_handler(lost)
deadline = time.monotonic() + 20
while not probes.peeked_yet() and time.monotonic() < deadline:
    try:
        m.find(b"zz", workers=1)
    except OSError:
        pass
say("survived", probes.peeked_yet())
"""
    )
    assert (child.returncode, child.stdout) == (-signal.SIGBUS, ""), outcome(child)


def test_a_signal_sent_after_many_probes_reaches_the_probe_handler(probe_library):
    """The probe handler resets a signal that is not a probe to the default
    action and returns: the first kill is swallowed, the second kills. Frames
    that siglongjmp left behind on the probing threads change nothing."""
    after = "os.kill(os.getpid(), signal.SIGSEGV)\nsay('alive')\nos.kill(os.getpid(), signal.SIGSEGV)\nsay('survived')"
    body = PROBES.format(library=probe_library, order=PROBE_ORDERS["probe-first"], after=after)
    with_, without = with_and_without(body)
    assert with_.returncode == -signal.SIGSEGV, with_.stderr
    assert with_.stdout.endswith("1 1 0\nalive\n"), with_.stdout
    assert outcome(with_) == outcome(without)


# --- 4. fork while other threads scan and fault -----------------------------

FORK_STORM = """
import errno, os, signal, tempfile, threading, warnings, ctypes
import safemmap as mmap
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, 3.12+
PAGE = mmap.PAGESIZE
MIB = 1 << 20
fd, path = tempfile.mkstemp()
os.unlink(path)
os.ftruncate(fd, 16 * MIB)
os.pwrite(fd, b"needle", 16 * MIB - 6)
big = mmap.mmap(fd, 0)
cut_fd, cut_path = tempfile.mkstemp()
os.unlink(cut_path)
os.ftruncate(cut_fd, 2 * PAGE)
cut = mmap.mmap(cut_fd, 0)
os.ftruncate(cut_fd, PAGE)
stop = threading.Event()

def faults(operation):
    try:
        operation()
    except OSError as err:
        return err.errno == errno.EIO
    return False

def scan_forever():
    while not stop.is_set():
        assert big.find(b"needle", workers=2) == 16 * MIB - 6
        assert faults(lambda: cut[PAGE]) and faults(lambda: cut.find(b"zz"))

def child(crash):
    signal.alarm(30)
    ok = big.find(b"needle", workers=2) == 16 * MIB - 6
    ok = ok and big.find(b"needle", workers=1) == 16 * MIB - 6
    ok = ok and faults(lambda: cut[PAGE]) and faults(lambda: cut.find(b"zz"))
    if ok and crash:
        # A fault that is not safemmap's, on a thread of the child's own:
        # a guard record left from a parent's thread must not resume it.
        wild = ctypes.addressof(ctypes.c_char.from_buffer(cut, 0)) + PAGE
        reader = threading.Thread(target=ctypes.string_at, args=(wild, 1))
        reader.start()
        reader.join()
    os._exit(0 if ok else 3)

scanners = [threading.Thread(target=scan_forever) for _ in range(2)]
for scanner in scanners:
    scanner.start()
statuses = []
try:
    for number in range(50):
        pid = os.fork()
        if pid == 0:
            try:
                child(crash=number % 2 == 1)
            finally:
                os._exit(4)
        statuses.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
finally:
    stop.set()
    for scanner in scanners:
        scanner.join()
print(statuses)
"""


def test_forked_children_scan_fault_and_crash_while_the_parent_scans():
    """Each child, forked while two threads are inside parallel scans and
    faults, finds the needle, gets its OSError and exits; those that then
    read a cut page outside any guarded call die of SIGBUS."""
    child = run_child(FORK_STORM, timeout=120)
    assert (child.returncode, child.stderr) == (0, ""), child.stderr
    assert child.stdout == f"{[0, -signal.SIGBUS] * 25}\n"


# Each round forks a child whose scan pool never started; it starts it on a
# thread (its first parallel find) and forks at once: the grandchild's
# scans must not wait for a start its parent's thread was making.
POOL_START = FORK_STORM.split("scanners = ")[0] + """
statuses = []
for round in range(60):
    pid = os.fork()
    if pid == 0:
        signal.alarm(60)
        starter = threading.Thread(target=big.find, args=(b"needle",), kwargs={"workers": 2})
        starter.start()
        grandchild = os.fork()
        if grandchild == 0:
            try:
                child(crash=False)
            finally:
                os._exit(4)
        starter.join()
        os._exit(os.waitstatus_to_exitcode(os.waitpid(grandchild, 0)[1]) & 0xFF)
    statuses.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
    if statuses[-1]:
        break  # a hung grandchild took a minute: one is enough
print(statuses)
"""


def test_forked_while_the_scan_pool_starts_children_scan():
    child = run_child(POOL_START, timeout=120)
    assert (child.returncode, child.stderr) == (0, ""), child.stderr
    assert child.stdout == f"{[0] * 60}\n"


# --- 5. Thousands of threads ------------------------------------------------

MANY_THREADS = """
import _thread, errno, os, tempfile, threading
import safemmap as mmap
PAGE = mmap.PAGESIZE
fd, path = tempfile.mkstemp()
os.unlink(path)
os.write(fd, b"x" * (4 * PAGE))
m = mmap.mmap(fd, 0)
os.ftruncate(fd, 2 * PAGE)
threading.stack_size(256 << 10)

def search_and_fault():
    # longer than 512 bytes: searched in the map, not in a copy
    found = m.find(b"xx", 100, 2 * PAGE)
    try:
        m.find(b"zz")
    except OSError as err:
        return found, err.errno
    return found, None

def start_and_join(threads):
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

LIVE = 2000
all_alive = threading.Barrier(LIVE)
results = []

def live():
    all_alive.wait()
    result = search_and_fault()
    all_alive.wait()
    results.append(result)

start_and_join([threading.Thread(target=live) for _ in range(LIVE)])
print("live", len(results), set(results))

results.clear()
for batch in range(40):
    start_and_join([threading.Thread(target=lambda: results.append(search_and_fault())) for _ in range(50)])
print("short-lived", len(results), set(results))

results.clear()
done = threading.Semaphore(0)

def raw():
    try:
        results.append(search_and_fault())
    finally:
        done.release()

for batch in range(40):
    for _ in range(50):
        _thread.start_new_thread(raw, ())
    for _ in range(50):
        done.acquire()
print("_thread", len(results), set(results))
"""


def test_two_thousand_live_threads_and_thousands_of_short_lived_ones():
    child = run_child(MANY_THREADS, timeout=120)
    assert (child.returncode, child.stderr) == (0, ""), child.stderr
    expected = {(100, 5)}
    assert child.stdout == "".join(
        f"{kind} 2000 {expected}\n" for kind in ("live", "short-lived", "_thread")
    )
