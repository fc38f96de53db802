//! Naming an anonymous map, so that the kernel's views of a process's
//! memory (Linux's `/proc/<pid>/maps`) tell what it holds.

use std::ffi::CString;
use std::io;

use super::Mmap;
use crate::error::Error;
use crate::sys;

/// The longest name Linux takes, its terminating NUL included
/// (`ANON_VMA_NAME_MAX_LEN`).
const MAX_NAME_BYTES: usize = 80;

impl Mmap {
    /// Names this anonymous map (`[anon:NAME]` or `[anon_shmem:NAME]` in
    /// `/proc/<pid>/maps`). Needs Linux 5.17 or later built with
    /// `CONFIG_ANON_VMA_NAME`: other kernels answer EINVAL, other systems
    /// `Unsupported`. The kernel also refuses unprintable characters and
    /// `` [ ] \ $ ` `` with EINVAL.
    ///
    /// Refused before any system call: a name with a NUL, one of more than
    /// 79 bytes, and a map of a file.
    pub fn set_name(&self, name: &str) -> io::Result<()> {
        let name = CString::new(name).map_err(|_| Error::NameWithNul)?;
        if name.as_bytes_with_nul().len() > MAX_NAME_BYTES {
            return Err(Error::NameTooLong.into());
        }
        if !self.is_anonymous() {
            return Err(Error::NameOfFileMap.into());
        }
        // SAFETY: the range is this map's mapping, live while `self` is.
        unsafe { sys::name_anonymous(self.base.as_ptr(), self.len, &name) }
    }
}
