//! Who else is busy with a map: operations that run on a view without the
//! GIL, and the close and resize calls that must wait for them before they
//! unmap or move the mapping.
//!
//! Close and resize take turns in the order they came: a thread resizing
//! in a loop cannot keep another's close waiting. The one whose turn it is
//! *reserves* the map while it waits for the operations on views to end:
//! other threads wait rather than start new ones, which could keep it
//! waiting for ever. The waiting thread itself is never held up: a signal
//! handler it runs meanwhile may use the map, even close or resize it
//! (ahead of the call it interrupted), where waiting would be waiting for
//! itself. Everything here but the count of running operations is only
//! touched with the object's lock held (`lock.rs`), which waits let go of
//! and take back, as they do the GIL.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::ThreadId;
use std::time::Duration;

use pyo3::prelude::*;

pub(crate) struct Threads {
    /// Operations running on a view, without the lock (so atomic).
    detached: AtomicUsize,
    /// Tickets of the close and resize calls in progress or waiting, with
    /// their threads; the lowest has its turn.
    turns: RefCell<Vec<(u64, ThreadId)>>,
    next_ticket: Cell<u64>,
    /// The thread whose call, its turn come, waits for `detached` to fall
    /// to 0.
    reserved_by: Cell<Option<ThreadId>>,
    /// The [`safemmap::fork_count`] the fields above speak of: a child of
    /// fork() has none of the other threads they count.
    generation: Cell<usize>,
}

impl Threads {
    pub(crate) fn new() -> Self {
        Threads {
            detached: AtomicUsize::new(0),
            turns: RefCell::new(Vec::new()),
            next_ticket: Cell::new(0),
            reserved_by: Cell::new(None),
            generation: Cell::new(safemmap::fork_count()),
        }
    }

    /// The state, cleared of what a fork() parent's threads left in it.
    fn current(&self) -> &Self {
        let generation = safemmap::fork_count();
        if self.generation.get() != generation {
            self.detached.store(0, Ordering::Relaxed);
            self.turns.borrow_mut().clear();
            self.reserved_by.set(None);
            self.generation.set(generation);
        }
        self
    }

    /// Waits while another thread has reserved the map.
    #[inline]
    pub(crate) fn wait_while_reserved(&self) -> PyResult<()> {
        match self.reserved() {
            false => Ok(()), // Every call checks: kept short and inline.
            true => self.wait_out_reservation(),
        }
    }

    /// Whether a close or resize has reserved the map, its own thread's
    /// included.
    #[inline]
    pub(crate) fn reserved(&self) -> bool {
        self.current().reserved_by.get().is_some()
    }

    #[cold]
    #[inline(never)]
    fn wait_out_reservation(&self) -> PyResult<()> {
        Python::attach(|py| wait_until(py, || !self.reserved_by_another()))
    }

    fn reserved_by_another(&self) -> bool {
        let reserved_by = self.current().reserved_by.get();
        reserved_by.is_some_and(|thread| thread != std::thread::current().id())
    }

    /// Counts an operation that is about to run on a view, until the
    /// returned guard is dropped (even by a panic: a count left behind
    /// would keep close waiting for ever).
    pub(crate) fn count_detached(&self) -> Detached<'_> {
        let detached = &self.current().detached;
        detached.fetch_add(1, Ordering::Acquire);
        Detached(detached)
    }

    /// Waits for this call's turn, then for the operations on views to end;
    /// returns attached, the caller's lock held again, and the turn kept
    /// until the guard drops.
    pub(crate) fn wait_for_turn(&self, py: Python<'_>) -> PyResult<Turn<'_>> {
        let turn = Turn::take(self);
        wait_until(py, || turn.has_come())?;
        let _reserved = Reservation::new(&self.reserved_by);
        wait_until(py, || self.current().detached.load(Ordering::Acquire) == 0)?;
        Ok(turn)
    }
}

/// Waits, mostly detached (without the GIL or the lock), until `done`
/// (checked attached, with them) says so; a signal's handler that raises
/// (Ctrl-C) ends the wait.
fn wait_until(py: Python<'_>, done: impl Fn() -> bool) -> PyResult<()> {
    while !done() {
        py.check_signals()?;
        py.detach(|| std::thread::sleep(Duration::from_micros(20)));
    }
    Ok(())
}

/// See [`Threads::count_detached`].
pub(crate) struct Detached<'a>(&'a AtomicUsize);

impl Drop for Detached<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Release);
    }
}

/// The map reserved by this thread until dropped (even by a panic), when
/// the reservation it replaced, if any, is back.
struct Reservation<'a> {
    reserved_by: &'a Cell<Option<ThreadId>>,
    replaced: Option<ThreadId>,
}

impl<'a> Reservation<'a> {
    fn new(reserved_by: &'a Cell<Option<ThreadId>>) -> Self {
        let replaced = reserved_by.replace(Some(std::thread::current().id()));
        Reservation {
            reserved_by,
            replaced,
        }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        self.reserved_by.set(self.replaced);
    }
}

/// A close or resize call's place in line, given up when dropped.
pub(crate) struct Turn<'a> {
    threads: &'a Threads,
    ticket: u64,
}

impl<'a> Turn<'a> {
    fn take(threads: &'a Threads) -> Self {
        let ticket = threads.next_ticket.get();
        threads.next_ticket.set(ticket + 1);
        let thread = std::thread::current().id();
        threads.current().turns.borrow_mut().push((ticket, thread));
        Turn { threads, ticket }
    }

    /// Whether every call that came earlier, from another thread, is done.
    fn has_come(&self) -> bool {
        let me = std::thread::current().id();
        let turns = self.threads.current().turns.borrow();
        turns
            .iter()
            .all(|&(ticket, thread)| ticket >= self.ticket || thread == me)
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.threads
            .turns
            .borrow_mut()
            .retain(|&(ticket, _)| ticket != self.ticket);
    }
}
