//! Shared by the integration tests.

use std::ffi::OsString;
use std::process::Command;

/// A command that runs this test binary again: after the words of
/// `wrapper` (such as `taskset -c 0`), and through `SAFEMMAP_TEST_RUNNER`
/// when the tests run under an emulator (qemu-user for another
/// architecture), which a child needs too.
pub fn this_test_binary(wrapper: &[&str]) -> Command {
    let runner = std::env::var("SAFEMMAP_TEST_RUNNER").unwrap_or_default();
    let mut line: Vec<OsString> = wrapper.iter().map(OsString::from).collect();
    line.extend(runner.split_whitespace().map(OsString::from));
    line.push(std::env::current_exe().unwrap().into_os_string());
    let mut command = Command::new(&line[0]);
    command.args(&line[1..]);
    command
}
