//! The lock that guards an `mmap` object's state: the GIL where there is
//! one, and on free-threaded builds a critical section on a mutex of the
//! object's own. This is the only place that differs between the two.
//!
//! What needs it, on either build, for memory safety:
//! - the map cell (`object::Shared::map`): its borrow flag, and the `Mmap`
//!   in it (position, length, the mapping's address, which a resize moves
//!   and a close unmaps);
//! - the count of buffer views lent out (`Shared::exports`), which close
//!   and resize read before they unmap or move the mapping; views are let
//!   go of from any thread;
//! - `threads::Threads`: the queue of close and resize calls, its ticket
//!   counter, the reservation and the fork generation (its count of
//!   operations running without the lock is an atomic);
//! - the fast paths' unguarded references (`PyMmap::peek`, `peek_mut`),
//!   sound only while no other thread can reach the object;
//! - the steps that must not be interleaved with another thread's: close
//!   and resize check that no view is lent and no operation runs on a view
//!   before they unmap or move the mapping, and an operation counts itself
//!   before it lets go of the lock to work on a view.
//!
//! Nothing else does: a byte iterator's place is an atomic (threads sharing
//! one iterator may each get the same byte, never one out of bounds);
//! module statics are set once at import; other objects' buffers stay alive
//! while we hold a view of them, and are only read through fault-safe
//! copies (a racing writer can tear what is read, not make it unsafe).
//!
//! Critical sections on a mutex of one's own came with CPython 3.14, as
//! did PyO3's support for free-threaded builds.
//!
//! A critical section is held as the GIL is: the interpreter lets go of it
//! whenever the thread detaches (`py.detach`, or a wait in the interpreter)
//! and takes it back before the thread goes on, so a call that waits for
//! another thread while holding it cannot deadlock, and it only protects
//! what happens between two such points, as the GIL does. A thread may
//! take it again while it holds it (CPython does not lock again a mutex
//! that the thread's innermost section holds). So the code is written once,
//! for "the lock", and is correct on both builds; on GIL builds the lock
//! compiles to nothing. A child of `os.fork()` finds every map's mutex
//! free but its own thread's: the interpreter stops all other threads
//! before it forks, and a stopped thread has let go of its sections.

use std::marker::PhantomData;

/// A per-object lock: empty where the GIL does the work.
pub(crate) struct ObjectLock {
    #[cfg(Py_GIL_DISABLED)]
    mutex: pyo3::ffi::PyMutex,
}

/// The lock, held until dropped. Guards end in the reverse order they
/// began, as scopes end (the interpreter keeps a stack of critical
/// sections); none is dropped while one taken after it lives.
pub(crate) struct Held<'a> {
    /// Boxed: the interpreter links the running section into its
    /// per-thread stack by address, and a guard moves.
    #[cfg(Py_GIL_DISABLED)]
    section: Box<pyo3::ffi::PyCriticalSection>,
    _lock: PhantomData<&'a ObjectLock>,
    /// A lock is held by its thread: the guard cannot be sent to another.
    _thread: PhantomData<*const ()>,
}

impl ObjectLock {
    pub(crate) fn new() -> Self {
        ObjectLock {
            #[cfg(Py_GIL_DISABLED)]
            mutex: pyo3::ffi::PyMutex::new(),
        }
    }

    /// Takes the lock (waiting, detached, for another thread to let go of
    /// it). Only called by a thread attached to the interpreter, as every
    /// call of the object's methods is.
    #[inline(always)]
    pub(crate) fn hold(&self) -> Held<'_> {
        Held {
            #[cfg(Py_GIL_DISABLED)]
            section: self.begin(),
            _lock: PhantomData,
            _thread: PhantomData,
        }
    }

    #[cfg(Py_GIL_DISABLED)]
    fn begin(&self) -> Box<pyo3::ffi::PyCriticalSection> {
        // SAFETY: a section is two plain fields, which Begin fills in.
        let mut section = Box::new(unsafe { std::mem::zeroed::<pyo3::ffi::PyCriticalSection>() });
        // SAFETY: the section stays at its heap address until `Held::drop`
        // ends it; the mutex lives as long as `self`, which the guard
        // borrows; its atomic byte may be written through a shared
        // reference; the caller is attached.
        unsafe {
            pyo3::ffi::PyCriticalSection_BeginMutex(
                &mut *section,
                std::ptr::from_ref(&self.mutex).cast_mut(),
            )
        };
        section
    }
}

#[cfg(Py_GIL_DISABLED)]
impl Drop for Held<'_> {
    fn drop(&mut self) {
        // SAFETY: the section was begun by `hold`, on this thread (the guard
        // is not `Send`), and is ended once, after any taken since.
        unsafe { pyo3::ffi::PyCriticalSection_End(&mut *self.section) };
    }
}

/// A borrow of state the lock guards, with the lock held for as long as
/// the borrow lives.
pub(crate) struct Locked<'a, T> {
    /// Declared first, so dropped first: the borrow ends while the lock is
    /// still held.
    borrow: T,
    _held: Held<'a>,
}

impl<'a, T> Locked<'a, T> {
    pub(crate) fn new(held: Held<'a>, borrow: T) -> Self {
        Locked {
            borrow,
            _held: held,
        }
    }
}

impl<T: std::ops::Deref> std::ops::Deref for Locked<'_, T> {
    type Target = T::Target;

    #[inline(always)]
    fn deref(&self) -> &T::Target {
        &self.borrow
    }
}

impl<T: std::ops::DerefMut> std::ops::DerefMut for Locked<'_, T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T::Target {
        &mut self.borrow
    }
}
