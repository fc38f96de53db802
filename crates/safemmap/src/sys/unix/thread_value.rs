//! A pointer each thread holds for itself (a pthread key), readable in a
//! signal handler: `pthread_getspecific` reads the thread's descriptor, it
//! never allocates, unlike a Rust thread-local's first use in a library
//! loaded at run time.

use std::ffi::c_void;
use std::io;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A thread-specific pointer, null in every thread until it sets one. The
/// key is made at the first `set`, lock-free: of two threads that race, one
/// key wins and the other is deleted, so a fork at any moment leaves the
/// child nothing to wait for.
pub(crate) struct ThreadValue {
    /// The pthread key plus one; 0 until made.
    key: AtomicUsize,
    /// Called at a thread's exit with its value, if not null.
    destructor: Option<unsafe extern "C" fn(*mut c_void)>,
}

/// glibc keeps the first 32 keys' values in the thread descriptor and
/// allocates a block for each further 32 at the first non-null `set` in a
/// thread; elsewhere (musl, Apple) every value lives in the descriptor.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const KEYS_NEVER_ALLOCATING: usize = 32;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
const KEYS_NEVER_ALLOCATING: usize = usize::MAX;

impl ThreadValue {
    pub(crate) const fn new(destructor: Option<unsafe extern "C" fn(*mut c_void)>) -> ThreadValue {
        ThreadValue {
            key: AtomicUsize::new(0),
            destructor,
        }
    }

    fn made(&self) -> Option<libc::pthread_key_t> {
        match self.key.load(Ordering::Acquire) {
            0 => None,
            key => Some((key - 1) as libc::pthread_key_t),
        }
    }

    fn make(&self) -> io::Result<libc::pthread_key_t> {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: `key` is a valid out-pointer, the destructor takes what
        // the values are.
        match unsafe { libc::pthread_key_create(&mut key, self.destructor) } {
            0 => {}
            error => return Err(io::Error::from_raw_os_error(error)),
        }
        match self
            .key
            .compare_exchange(0, key as usize + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Ok(key),
            Err(winner) => {
                // SAFETY: nobody else has seen `key`.
                unsafe { libc::pthread_key_delete(key) };
                Ok((winner - 1) as libc::pthread_key_t)
            }
        }
    }

    /// Makes the key now, outside any signal handler, so that
    /// [`set_in_handler`](Self::set_in_handler) can use it.
    pub(crate) fn prepare(&self) -> io::Result<()> {
        self.made()
            .map_or_else(|| self.make().map(drop), |_| Ok(()))
    }

    /// The calling thread's value. Async-signal-safe.
    #[inline]
    pub(crate) fn get(&self) -> *const c_void {
        match self.made() {
            // SAFETY: a key made and never deleted.
            Some(key) => unsafe { libc::pthread_getspecific(key) },
            None => ptr::null(),
        }
    }

    /// Sets the calling thread's value, making the key first if needed.
    /// Not in a signal handler: see [`set_in_handler`](Self::set_in_handler).
    #[inline]
    pub(crate) fn set(&self, value: *const c_void) -> io::Result<()> {
        let key = self.made().map_or_else(|| self.make(), Ok)?;
        // SAFETY: a key made and never deleted.
        match unsafe { libc::pthread_setspecific(key, value) } {
            0 => Ok(()),
            error => Err(io::Error::from_raw_os_error(error)),
        }
    }

    /// Sets the calling thread's value from a signal handler, where nothing
    /// may allocate: `false` (and nothing set) when the key is not made yet
    /// or the C library might allocate for it. Setting null, or a value over
    /// a non-null one, never allocates.
    pub(crate) fn set_in_handler(&self, value: *const c_void) -> bool {
        let Some(key) = self.made() else {
            return value.is_null();
        };
        let allocation_free =
            value.is_null() || (key as usize) < KEYS_NEVER_ALLOCATING || !self.get().is_null();
        // SAFETY: a key made and never deleted; the C library allocates
        // nothing for it here (checked above).
        allocation_free && unsafe { libc::pthread_setspecific(key, value) } == 0
    }
}
