//! The `mmap` class: CPython's semantics, case by case, over
//! [`safemmap::Mmap`]: 3.13's, and where 3.14 or 3.15 changed them the
//! running version's (see [`versions`]).
//!
//! Conversions of arguments can run Python code (`__index__`, a buffer's
//! exporter) that closes or resizes this very map. So every method checks
//! that the map is open, converts its arguments without holding a borrow of
//! the map, then borrows it and checks again: the core is only ever called
//! with bounds taken from the map as it is at that moment.
//!
//! The class is `frozen`, its state in plain cells that the object's lock
//! guards (`lock.rs`, which lists what relies on it): the GIL, or on
//! free-threaded builds a critical section. PyO3's own borrow flags are
//! atomic, and two of them per call cost more than an `m[i]` of CPython's
//! takes.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::io::{Seek, SeekFrom};
use std::ops::Range;
use std::os::raw::{c_char, c_int, c_long, c_longlong};
use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::exceptions::{PyBufferError, PyIndexError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PySlice, PyString, PyTuple};
use safemmap::{raw, Access, Begun, Error, Mmap, MmapOptions, Scan, View};

use crate::convert::{self, Bytes, Opt};
use crate::errors::{closed, readinto_to_py, size_untracked, to_py, write_to_py};
use crate::lock::{Held, Locked, ObjectLock};
use crate::threads::{Detached, Threads};
use crate::versions;

#[cfg_attr(
    Py_3_10,
    pyclass(
        name = "mmap",
        module = "mmap",
        subclass,
        weakref,
        frozen,
        immutable_type
    )
)]
#[cfg_attr(
    not(Py_3_10),
    pyclass(name = "mmap", module = "mmap", subclass, weakref, frozen)
)]
pub struct PyMmap {
    shared: Shared,
    /// The map's access, which never changes: kept apart so that a closed
    /// map still knows it (from 3.14 `m[i] = v` refuses a read-only map
    /// before the closed-check).
    access: Access,
}

/// The object's state.
struct Shared {
    /// Guards the fields below.
    lock: ObjectLock,
    /// `None` once closed.
    map: RefCell<Option<Mmap>>,
    /// Live buffer-protocol views; while any exists the mapping must stay put.
    exports: Cell<usize>,
    /// Threads busy with the map, and close and resize waiting for them.
    threads: Threads,
}

/// Operations on this many bytes or more let go of the GIL meanwhile;
/// below it, releasing and taking it back costs more than it frees.
pub(crate) const DETACH_BYTES: usize = 1 << 20;

/// The open map, borrowed with the object's lock held.
pub(crate) type MapRef<'a> = Locked<'a, Ref<'a, Mmap>>;
pub(crate) type MapMut<'a> = Locked<'a, RefMut<'a, Mmap>>;

// SAFETY: `Shared` is only reached through `PyMmap`'s methods, which touch
// the cells only with `lock` held (the borrows `map` and `map_mut` hand out
// hold it while they live). The lock serialises every access to the cells;
// the `RefCell` turns re-entrant misuse into an error.
unsafe impl Sync for Shared {}

impl PyMmap {
    fn new_open(map: Mmap) -> Self {
        let access = map.access();
        let shared = Shared {
            lock: ObjectLock::new(),
            map: RefCell::new(Some(map)),
            exports: Cell::new(0),
            threads: Threads::new(),
        };
        PyMmap { shared, access }
    }

    /// Takes the object's lock, which guards its state (`lock.rs`).
    #[inline(always)]
    pub(crate) fn hold(&self) -> Held<'_> {
        self.shared.lock.hold()
    }

    /// The open map, or the closed-check error.
    pub(crate) fn map(&self) -> PyResult<MapRef<'_>> {
        let held = self.hold();
        self.shared.threads.wait_while_reserved()?;
        let map = self.open_map().ok_or_else(|| self.unavailable())?;
        Ok(Locked::new(held, map))
    }

    pub(crate) fn map_mut(&self) -> PyResult<MapMut<'_>> {
        let held = self.hold();
        self.shared.threads.wait_while_reserved()?;
        let map = self.open_map_mut().ok_or_else(|| self.unavailable())?;
        Ok(Locked::new(held, map))
    }

    /// The map if it is open and free, or `None`.
    fn open_map(&self) -> Option<Ref<'_, Mmap>> {
        Ref::filter_map(self.shared.map.try_borrow().ok()?, Option::as_ref).ok()
    }

    fn open_map_mut(&self) -> Option<RefMut<'_, Mmap>> {
        RefMut::filter_map(self.shared.map.try_borrow_mut().ok()?, Option::as_mut).ok()
    }

    /// The map if it is open and no operation changes it, or `None`: for
    /// the fast paths, which save themselves marking it borrowed.
    ///
    /// # Safety
    /// While the reference lives, the caller holds the object's lock
    /// ([`hold`](Self::hold)), runs no Python code (through which the map
    /// could be borrowed, or the lock let go of) and does not borrow the map
    /// itself.
    pub(crate) unsafe fn peek(&self) -> Option<&Mmap> {
        // SAFETY: no mutable borrow exists (checked), and the caller starts
        // none while the reference lives.
        unsafe { self.shared.map.try_borrow_unguarded() }
            .ok()?
            .as_ref()
    }

    /// The map if it is open and no operation holds it, or `None`: as
    /// [`peek`](Self::peek), to change it.
    ///
    /// # Safety
    /// As for [`peek`](Self::peek).
    #[allow(clippy::mut_from_ref)] // The contract above makes it exclusive.
    pub(crate) unsafe fn peek_mut(&self) -> Option<&mut Mmap> {
        if self.shared.map.try_borrow_mut().is_err() {
            return None;
        }
        // SAFETY: no borrow exists (checked just above), and the caller
        // starts none while the reference lives.
        unsafe { &mut *self.shared.map.as_ptr() }.as_mut()
    }

    /// Fills `view` with the whole of `map` for `obj` and counts the export:
    /// 0, or -1 with CPython's error set (a writable view of a read-only map).
    ///
    /// # Safety
    /// `view` is the caller's to fill; `obj` is this object, whose map `map`
    /// is, borrowed with the object's lock held.
    pub(crate) unsafe fn export(
        &self,
        obj: *mut ffi::PyObject,
        map: &mut Mmap,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> c_int {
        let readonly = c_int::from(map.access() == Access::Read);
        // SAFETY: passed on from the caller. The memory stays mapped and in
        // place while the view lives: close and resize refuse to run while
        // `exports` is non-zero.
        let ret = unsafe {
            ffi::PyBuffer_FillInfo(
                view,
                obj,
                map.as_mut_ptr().cast(),
                map.len() as isize,
                readonly,
                flags,
            )
        };
        if ret == 0 {
            self.shared.exports.set(self.shared.exports.get() + 1);
        }
        ret
    }

    /// Counts a view of the map released (on whatever thread lets go of it).
    pub(crate) fn release_export(&self) {
        let _held = self.hold();
        self.shared.exports.set(self.shared.exports.get() - 1);
    }

    /// Whether a close or resize has reserved the map: the full methods
    /// wait for it to end. The caller holds the lock.
    pub(crate) fn reserved(&self) -> bool {
        self.shared.threads.reserved()
    }

    /// The `closed` property: a map held by an operation is open.
    pub(crate) fn is_closed(&self) -> bool {
        let _held = self.hold();
        self.shared.map.try_borrow().is_ok_and(|map| map.is_none())
    }

    /// Why the map cannot be had: closed, or held by an operation. This
    /// and the next: the caller holds the lock. Out of line, so that the
    /// borrows keep the short code they had before they held a lock.
    #[cold]
    #[inline(never)]
    fn unavailable(&self) -> PyErr {
        match self.shared.map.try_borrow_mut() {
            Err(_) => in_use(),
            Ok(_) => closed(),
        }
    }

    fn exported(&self) -> bool {
        self.shared.exports.get() > 0
    }

    /// Runs `work` on a view of the map, without the GIL if `long`.
    fn with_view<R: Send>(
        &self,
        py: Python<'_>,
        long: bool,
        work: impl FnOnce(View) -> R + Send,
    ) -> PyResult<R> {
        if !long {
            let map = self.map()?;
            // SAFETY: the borrow, held during the work, keeps the map in place.
            return Ok(work(unsafe { map.view() }));
        }
        let pinned = self.pinned_view()?;
        Ok(py.detach(|| work(pinned.view)))
    }

    /// find (rfind if `reverse`) of `needle` in `range`. The first (last)
    /// MiB is searched with the GIL held, as CPython does: a match found
    /// there costs no GIL hand-over, which, when other threads want it, can
    /// take milliseconds. The rest without it.
    pub(crate) fn search_range(
        &self,
        py: Python<'_>,
        range: std::ops::Range<usize>,
        needle: &[u8],
        workers: Option<usize>,
        reverse: bool,
    ) -> PyResult<isize> {
        let pinned = self.pinned_view()?;
        let scan = scan(pinned.view, range, workers);
        let begun = match reverse {
            false => scan.find_near(needle, DETACH_BYTES),
            true => scan.rfind_near(needle, DETACH_BYTES),
        };
        let found = match begun.map_err(to_py)? {
            Begun::Done(found) => found,
            Begun::Farther(rest) => py
                .detach(|| match reverse {
                    false => rest.find(needle),
                    true => rest.rfind(needle),
                })
                .map_err(to_py)?,
        };
        Ok(found.map_or(-1, |i| i as isize))
    }

    /// A view of the map that stays valid, the GIL held or not, until the
    /// guard is dropped: close and resize, the only operations that unmap
    /// or move the mapping, wait until then.
    fn pinned_view(&self) -> PyResult<Pinned<'_>> {
        let map = self.map()?;
        // Counted while the lock is held, so that no close or resize can
        // come between the view and the count.
        let _counted = self.shared.threads.count_detached();
        // SAFETY: the count makes close and resize wait, so the mapping
        // stays put until the count is given back.
        let view = unsafe { map.view() };
        Ok(Pinned { view, _counted })
    }

    /// Copies `count` bytes from `at` to `dst`, without the GIL if that
    /// is a long copy. `dst` must stay writable during the call (a view the
    /// caller holds, or a bytes object it is filling); it may be this map.
    /// The outer error is the map's (closed, in use), the inner the copy's.
    fn read_detached(
        &self,
        py: Python<'_>,
        at: usize,
        dst: *mut u8,
        count: usize,
    ) -> PyResult<std::io::Result<()>> {
        // A plain number may cross to the GIL-free side.
        let dst = dst as usize;
        // SAFETY: the caller keeps `dst` writable; the copy behaves like memmove.
        let read = |view: View| unsafe { view.read_raw(at, dst as *mut u8, count) };
        self.with_view(py, count >= DETACH_BYTES, read)
    }

    /// Reads `count` bytes from the position, advancing it; a long read
    /// lets go of the GIL (and of `map`) meanwhile.
    pub(crate) fn read_advancing<'py>(
        &self,
        py: Python<'py>,
        mut map: MapMut<'_>,
        count: usize,
    ) -> PyResult<Bound<'py, PyBytes>> {
        if count < DETACH_BYTES {
            return read_bytes(py, &mut map, count);
        }
        let at = map.position();
        drop(map);
        let fill = |dst: *mut u8| self.read_detached(py, at, dst, count)?.map_err(to_py);
        let bytes = convert::bytes_with(py, count, fill)?;
        self.set_position(at + count)?;
        Ok(bytes)
    }

    /// Puts the position at `at`, after an operation that ran on a view.
    fn set_position(&self, at: usize) -> PyResult<()> {
        let mut map = self.map_mut()?;
        map.seek(SeekFrom::Start(at as u64))
            .map(drop)
            .map_err(to_py)
    }
}

/// See [`PyMmap::pinned_view`].
struct Pinned<'a> {
    view: View,
    _counted: Detached<'a>,
}

/// A map used again while one of its own operations is under way (from a
/// finalizer, say). The operations are arranged so that this cannot happen
/// through their arguments.
fn in_use() -> PyErr {
    PyRuntimeError::new_err("mmap is in use by an operation in progress")
}

/// The closed-check CPython makes before looking at any argument.
fn ensure_open(slf: &Bound<'_, PyMmap>) -> PyResult<()> {
    slf.get().map().map(drop)
}

/// The closed-check of a method that takes arguments, before it converts
/// them: 3.13 makes it; from 3.14 only the check after the conversion is
/// made (every method makes that one when it takes the map).
fn ensure_open_before_arguments(slf: &Bound<'_, PyMmap>) -> PyResult<()> {
    match versions::ARGUMENTS_BEFORE_CLOSED_CHECK {
        true => Ok(()),
        false => ensure_open(slf),
    }
}

/// An index from Python (negative counts from the end) as an offset; out of
/// range values become offsets the core rejects.
pub(crate) fn absolute(index: isize, len: usize) -> usize {
    convert::unsigned(if index < 0 {
        index + len as isize
    } else {
        index
    })
}

/// A slice bound (or a find/rfind bound, treated alike) as an offset.
pub(crate) fn clamp_bound(bound: isize, len: usize) -> usize {
    let len = len as isize;
    let bound = if bound < 0 {
        (bound + len).max(0)
    } else {
        bound.min(len)
    };
    bound as usize
}

/// A slice's `(start, stop, step)`, converted with `__index__`.
pub(crate) fn unpack(slice: &Bound<'_, PySlice>) -> PyResult<(isize, isize, isize)> {
    let (mut start, mut stop, mut step) = (0, 0, 0);
    // SAFETY: the slice is live and the out-pointers are valid.
    let ret = unsafe { ffi::PySlice_Unpack(slice.as_ptr(), &mut start, &mut stop, &mut step) };
    if ret == -1 {
        return Err(PyErr::fetch(slice.py()));
    }
    Ok((start, stop, step))
}

/// The first index and the element count of an unpacked slice over `len`.
pub(crate) fn adjust(
    (mut start, mut stop, step): (isize, isize, isize),
    len: usize,
) -> (usize, usize) {
    // SAFETY: plain arithmetic on the out-pointers, which are valid.
    let count = unsafe { ffi::PySlice_AdjustIndices(len as isize, &mut start, &mut stop, step) };
    (start as usize, count as usize)
}

/// Reads `count` bytes from the position into a new bytes object.
fn read_bytes<'py>(py: Python<'py>, map: &mut Mmap, count: usize) -> PyResult<Bound<'py, PyBytes>> {
    // SAFETY: the new object's buffer is writable and seen by nobody else.
    let fill = |dst| unsafe { map.read_raw(dst, count) }.map_err(to_py);
    convert::bytes_with(py, count, fill)
}

/// The constructor's parameters, in positional order.
const PARAMETERS: [&str; 7] = [
    "fileno", "length", "flags", "prot", "access", "offset", "trackfd",
];
const REQUIRED: usize = 2;
const POSITIONAL: usize = 6;

/// The constructor's arguments by parameter, with CPython's parser errors.
fn bind_arguments<'py>(
    args: &Bound<'py, PyTuple>,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<[Option<Bound<'py, PyAny>>; 7]> {
    if args.len() > POSITIONAL {
        return Err(PyTypeError::new_err(format!(
            "function takes at most {POSITIONAL} positional arguments ({} given)",
            args.len()
        )));
    }
    let mut bound: [Option<Bound<'py, PyAny>>; 7] = Default::default();
    for (slot, arg) in bound.iter_mut().zip(args.iter()) {
        *slot = Some(arg);
    }
    for (key, value) in kwargs.into_iter().flatten() {
        let name: String = key.str()?.extract()?;
        let Some(index) = PARAMETERS.iter().position(|&p| p == name) else {
            return Err(PyTypeError::new_err(format!(
                "this function got an unexpected keyword argument '{name}'"
            )));
        };
        if bound[index].is_some() {
            return Err(PyTypeError::new_err(format!(
                "argument for function given by name ('{name}') and position ({})",
                index + 1
            )));
        }
        bound[index] = Some(value);
    }
    if let Some(missing) = bound[..REQUIRED].iter().position(Option::is_none) {
        return Err(PyTypeError::new_err(format!(
            "function missing required argument '{}' (pos {})",
            PARAMETERS[missing],
            missing + 1
        )));
    }
    Ok(bound)
}

/// An `extern` block of the interpreter's C functions. On Windows each is
/// linked by name from the interpreter's DLL, which build.rs names in the
/// `python_dll` cfg (elsewhere the interpreter provides them at load time).
macro_rules! extern_python {
    ($($dll:literal),*; $($item:tt)*) => {
        $(#[cfg_attr(python_dll = $dll, link(name = $dll, kind = "raw-dylib"))])*
        extern "C" { $($item)* }
    };
}

extern_python! {
    "python39", "python310", "python311", "python312", "python313", "python313t",
    "python314", "python314t", "python315", "python315t";
    /// CPython's C entry to audit hooks, which pyo3-ffi does not declare.
    fn PySys_Audit(event: *const c_char, format: *const c_char, ...) -> c_int;
}

/// Raises the `mmap.__new__` audit event with CPython's arguments. Through
/// the C API, which returns at once when no hook is installed: importing
/// `sys` to call `sys.audit` took half as long as the whole construction.
fn audit_new(
    py: Python<'_>,
    fileno: c_int,
    length: isize,
    access: c_int,
    offset: c_long,
) -> PyResult<()> {
    // SAFETY: each argument has the C type its format letter names (int,
    // Py_ssize_t, int, long long).
    let status = unsafe {
        PySys_Audit(
            c"mmap.__new__".as_ptr(),
            c"iniL".as_ptr(),
            fileno,
            length,
            access,
            c_longlong::from(offset),
        )
    };
    match status {
        0 => Ok(()),
        _ => Err(PyErr::fetch(py)),
    }
}

#[pymethods]
impl PyMmap {
    #[new]
    #[pyo3(signature = (*args, **kwargs))]
    fn new(args: &Bound<'_, PyTuple>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let py = args.py();
        let [fileno, length, flags, prot, access, offset, trackfd] = bind_arguments(args, kwargs)?;
        let int_or =
            |arg: Option<Bound<'_, PyAny>>, default| arg.map_or(Ok(default), |a| convert::int(&a));
        let fileno = convert::int(&fileno.expect("bound"))?;
        let length = convert::ssize(&length.expect("bound"))?;
        let flags = int_or(flags, raw::MAP_SHARED)?;
        let prot = int_or(prot, raw::PROT_READ | raw::PROT_WRITE)?;
        let access = int_or(access, Access::Default.as_raw())?;
        let offset = offset.map_or(Ok(0), |o| convert::long(&o))?;
        let trackfd = trackfd.map_or(Ok(true), |t| t.is_truthy())?;

        if length < 0 {
            return Err(pyo3::exceptions::PyOverflowError::new_err(
                "memory mapped length must be positive",
            ));
        }
        if offset < 0 {
            return Err(pyo3::exceptions::PyOverflowError::new_err(
                "memory mapped offset must be positive",
            ));
        }
        let explicit_flags = flags != raw::MAP_SHARED || prot != raw::PROT_READ | raw::PROT_WRITE;
        if access != Access::Default.as_raw() && explicit_flags {
            return Err(to_py(Error::AccessConflict.into()));
        }
        let access = Access::from_raw(access.into()).map_err(to_py)?;
        let mut options = MmapOptions::new()
            .len(length as usize)
            .offset(offset as u64)
            .access(access)
            .track_fd(trackfd);
        if access == Access::Default {
            options = options.flags(flags).prot(prot);
        }
        audit_new(
            py,
            fileno,
            length,
            options.effective_access().as_raw(),
            offset,
        )?;
        let file = convert::mapped_file(py, fileno)?;
        // SAFETY: like CPython, the map only inspects, duplicates and maps
        // the caller's descriptor; it never closes it.
        let map = unsafe { options.map_raw(file) }.map_err(to_py)?;
        if map.is_empty() {
            // An empty file: the core maps it to an empty map, CPython refuses.
            return Err(to_py(Error::EmptyFile.into()));
        }
        Ok(PyMmap::new_open(map))
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        // Held throughout (let go of while waiting, as the GIL is): nothing
        // may come between the checks and the unmapping.
        let _held = self.hold();
        // Checked in turn: a buffer may be exported while this waits.
        let _turn = self.shared.threads.wait_for_turn(py)?;
        if self.exported() {
            return Err(PyBufferError::new_err(
                "cannot close exported pointers exist",
            ));
        }
        let closing = self
            .shared
            .map
            .try_borrow_mut()
            .map_err(|_| in_use())?
            .take();
        match closing {
            // Unmapping a GiB of cached pages takes tens of milliseconds.
            Some(map) if map.len() >= DETACH_BYTES => py.detach(|| drop(map)),
            closing => drop(closing),
        }
        Ok(())
    }

    fn __enter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ensure_open(slf)?;
        Ok(slf.clone())
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, PyTuple>) -> PyResult<()> {
        self.close(py)
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.map()?.len())
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let name = convert::type_name(slf.as_any());
        match slf.get().map() {
            Err(_) => format!("<{name} closed=True>"),
            Ok(map) => format!(
                "<{name} closed=False, access={}, length={}, pos={}, offset={}>",
                map.access().name(),
                map.len(),
                map.position(),
                map.offset()
            ),
        }
    }

    fn __sizeof__(slf: &Bound<'_, Self>) -> PyResult<usize> {
        slf.get_type().getattr("__basicsize__")?.extract()
    }

    /// `bytes(m)`: a guarded copy (the buffer protocol would be unguarded).
    fn __bytes__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let map = self.map()?;
        PyBytes::new_with(py, map.len(), |buf| {
            map.read_at(0, buf).map(drop).map_err(to_py)
        })
    }

    fn tell(&self) -> PyResult<usize> {
        Ok(self.map()?.position())
    }

    fn size(&self) -> PyResult<u64> {
        let map = self.map()?;
        if versions::SIZE_WITHOUT_A_FILE {
            if !map.tracks_file() {
                return Err(size_untracked());
            }
            if map.is_anonymous() {
                return Ok(map.len() as u64);
            }
        }
        map.file_size().map_err(to_py)
    }

    #[pyo3(signature = (n = None, /))]
    fn read<'py>(
        slf: &Bound<'py, Self>,
        n: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        ensure_open_before_arguments(slf)?;
        let n = convert::optional_size(n)?;
        let this = slf.get();
        let map = this.map_mut()?;
        let count = n.map_or(map.remaining(), |n| n.min(map.remaining()));
        this.read_advancing(slf.py(), map, count)
    }

    fn read_byte(&self) -> PyResult<u8> {
        self.map_mut()?.read_byte().map_err(to_py)
    }

    fn readline<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let map = self.map_mut()?;
        let count = map.line_len().map_err(to_py)?;
        self.read_advancing(py, map, count)
    }

    #[pyo3(signature = (data, /))]
    fn write(slf: &Bound<'_, Self>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        ensure_open_before_arguments(slf)?;
        let data = Bytes::new(data)?;
        let this = slf.get();
        let mut map = this.map_mut()?;
        let len = data.len();
        if len < DETACH_BYTES {
            // SAFETY: the view keeps its bytes readable until it is dropped,
            // after this call; the copy behaves like memmove (it may be this map).
            unsafe { map.write_raw(data.as_ptr(), len) }.map_err(write_to_py)?;
            return Ok(len);
        }
        let at = map.position();
        drop(map);
        // A plain number may cross to the GIL-free side.
        let src = data.as_ptr() as usize;
        // SAFETY: as above.
        let write = |view: View| unsafe { view.write_raw(at, src as *const u8, len) };
        let written = this.with_view(slf.py(), true, write)?;
        // Like `Mmap::write_raw`: past what was stored, a fault's prefix too.
        let stored = written
            .as_ref()
            .map_or_else(safemmap::transferred, |()| len);
        this.set_position(at + stored)?;
        written.map_err(write_to_py)?;
        Ok(len)
    }

    #[pyo3(signature = (value, /))]
    fn write_byte(slf: &Bound<'_, Self>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        ensure_open_before_arguments(slf)?;
        let value = convert::ubyte(value)?;
        slf.get().map_mut()?.write_byte(value).map_err(to_py)
    }

    #[pyo3(signature = (dist, whence = Opt::missing(), /))]
    fn seek(slf: &Bound<'_, Self>, dist: &Bound<'_, PyAny>, whence: Opt<'_>) -> PyResult<u64> {
        ensure_open_before_arguments(slf)?;
        let dist = convert::ssize(dist)?;
        let whence = whence.map(convert::method_int)?.unwrap_or(0);
        let mut map = slf.get().map_mut()?;
        let to = match whence {
            0 => SeekFrom::Start(convert::unsigned(dist) as u64),
            1 => SeekFrom::Current(dist as i64),
            2 => SeekFrom::End(dist as i64),
            _ => return Err(PyValueError::new_err("unknown seek type")),
        };
        map.seek(to).map_err(to_py)
    }

    #[pyo3(signature = (sub, start = Opt::missing(), end = Opt::missing(), /, *, workers = None))]
    fn find(
        slf: &Bound<'_, Self>,
        sub: &Bound<'_, PyAny>,
        start: Opt<'_>,
        end: Opt<'_>,
        workers: Option<usize>,
    ) -> PyResult<isize> {
        search(slf, sub, start, end, workers, false)
    }

    #[pyo3(signature = (sub, start = Opt::missing(), end = Opt::missing(), /, *, workers = None))]
    fn rfind(
        slf: &Bound<'_, Self>,
        sub: &Bound<'_, PyAny>,
        start: Opt<'_>,
        end: Opt<'_>,
        workers: Option<usize>,
    ) -> PyResult<isize> {
        search(slf, sub, start, end, workers, true)
    }

    /// `count(sub[, start[, end]])`, with `bytes.count`'s semantics: `sub`
    /// may be a byte value, `start` and `end` default to the whole map.
    #[pyo3(signature = (sub, start = None, end = None, /, *, workers = None))]
    fn count(
        slf: &Bound<'_, Self>,
        sub: &Bound<'_, PyAny>,
        start: Option<&Bound<'_, PyAny>>,
        end: Option<&Bound<'_, PyAny>>,
        workers: Option<usize>,
    ) -> PyResult<usize> {
        ensure_open_before_arguments(slf)?;
        let needle = convert::needle(sub)?;
        let start = start.map(convert::slice_index).transpose()?;
        let end = end.map(convert::slice_index).transpose()?;
        let len = slf.get().map()?.len();
        let start = start.unwrap_or(0);
        if start > len as isize {
            // bytes.count counts nothing past the end, not even b"".
            return Ok(0);
        }
        let range = clamp_bound(start, len)..clamp_bound(end.unwrap_or(len as isize), len);
        let long = range.len() >= DETACH_BYTES;
        let count = |view: View| scan(view, range, workers).count(&needle);
        slf.get().with_view(slf.py(), long, count)?.map_err(to_py)
    }

    /// `readinto(buffer)`: reads from the position into a writable buffer,
    /// as much as fits, and returns how many bytes that was.
    #[pyo3(signature = (buffer, /))]
    fn readinto(slf: &Bound<'_, Self>, buffer: &Bound<'_, PyAny>) -> PyResult<usize> {
        ensure_open_before_arguments(slf)?;
        let target = Bytes::writable(buffer)?;
        let this = slf.get();
        let (at, count) = {
            let map = this.map()?;
            (map.position(), target.len().min(map.remaining()))
        };
        let read = this.read_detached(slf.py(), at, target.as_mut_ptr(), count)?;
        // Past the bytes the buffer received, a fault's prefix too.
        let received = read.as_ref().map_or_else(safemmap::transferred, |()| count);
        this.set_position(at + received)?;
        read.map_err(readinto_to_py)?;
        Ok(count)
    }

    #[pyo3(name = "move", signature = (dest, src, count, /))]
    fn move_(
        slf: &Bound<'_, Self>,
        dest: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
        count: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        ensure_open_before_arguments(slf)?;
        let (dest, src, count) = (
            convert::ssize(dest)?,
            convert::ssize(src)?,
            convert::ssize(count)?,
        );
        let mut map = slf.get().map_mut()?;
        map.copy_within(
            convert::unsigned(dest),
            convert::unsigned(src),
            convert::unsigned(count),
        )
        .map_err(to_py)
    }

    /// `flush(offset=0, size=-1, /, *, flags=MS_SYNC)`: 3.15's signature
    /// on every version, `size` defaulting as the running version does.
    #[pyo3(signature = (offset = Opt::missing(), size = Opt::missing(), /, *, flags = Opt::missing()))]
    fn flush(
        slf: &Bound<'_, Self>,
        offset: Opt<'_>,
        size: Opt<'_>,
        flags: Opt<'_>,
    ) -> PyResult<()> {
        ensure_open_before_arguments(slf)?;
        let offset = offset.map(convert::ssize)?.unwrap_or(0);
        if !versions::FLUSH_TO_THE_END {
            // 3.14 converts the size after the closed-check.
            ensure_open(slf)?;
        }
        let size = size.map(convert::ssize)?;
        // 0, like the default, is MS_SYNC.
        let flags = flags.map(convert::method_int)?.unwrap_or(0);
        let (len, anonymous) = {
            let map = slf.get().map()?;
            (map.len(), map.is_anonymous())
        };
        let size = match size {
            // Wrapping: an offset that makes this wrap is out of range, and
            // the core says so.
            Some(-1) | None if versions::FLUSH_TO_THE_END => (len as isize).wrapping_sub(offset),
            None => len as isize,
            Some(size) => size,
        };
        let flush = |view: View| {
            view.flush_range_with(convert::unsigned(offset), convert::unsigned(size), flags)
        };
        // Writing a file's pages back may take long; an anonymous map has
        // none to write, and keeps the GIL.
        slf.get()
            .with_view(slf.py(), !anonymous, flush)?
            .map_err(to_py)
    }

    /// `set_name(name, /)` (3.15, on every version): names an anonymous
    /// map `cpython:mmap:NAME` for the kernel. As CPython, a kernel that
    /// cannot name maps is reported only in development mode (`-X dev`).
    #[pyo3(signature = (name, /))]
    fn set_name(&self, py: Python<'_>, name: &Bound<'_, PyAny>) -> PyResult<()> {
        let Ok(name) = name.cast::<PyString>() else {
            return Err(PyTypeError::new_err(format!(
                "set_name() argument must be str, not {}",
                convert::type_name(name)
            )));
        };
        let name = format!("cpython:mmap:{}", name.to_str()?);
        match self.map()?.set_name(&name) {
            Err(err) if safemmap::refusal(&err).is_none() && !dev_mode(py)? => Ok(()),
            named => named.map_err(to_py),
        }
    }

    #[pyo3(signature = (option, start = Opt::missing(), length = Opt::missing(), /))]
    fn madvise(
        slf: &Bound<'_, Self>,
        option: &Bound<'_, PyAny>,
        start: Opt<'_>,
        length: Opt<'_>,
    ) -> PyResult<()> {
        ensure_open_before_arguments(slf)?;
        let option = convert::method_int(option)?;
        let start = start.map(convert::ssize)?.unwrap_or(0);
        // From 3.14 the length alone is converted after the closed-check.
        ensure_open(slf)?;
        let length = length.map(convert::ssize)?;
        let length = length.map_or(slf.get().map()?.len(), convert::unsigned);
        let advise = |view: View| view.advise_raw(option, convert::unsigned(start), length);
        let long = length >= DETACH_BYTES;
        slf.get().with_view(slf.py(), long, advise)?.map_err(to_py)
    }

    #[pyo3(signature = (newsize, /))]
    fn resize(slf: &Bound<'_, Self>, newsize: &Bound<'_, PyAny>) -> PyResult<()> {
        ensure_open_before_arguments(slf)?;
        let newsize = convert::ssize(newsize)?;
        let (this, py) = (slf.get(), slf.py());
        // As in close: hold the lock throughout, wait for the turn, check after.
        let _held = this.hold();
        let _turn = this.shared.threads.wait_for_turn(py)?;
        this.map()?;
        if this.exported() {
            return Err(PyBufferError::new_err(
                "mmap can't resize with extant buffers exported.",
            ));
        }
        let mut resize = this
            .map_mut()?
            .start_resize(convert::unsigned(newsize))
            .map_err(to_py)?;
        // The slow part of a shrink: other threads may use the map's
        // remaining bytes meanwhile; close and resize wait for the turn.
        if resize.is_pending() {
            py.detach(|| resize.run());
        }
        this.map_mut()?.finish_resize(resize).map_err(to_py)
    }

    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        ensure_open(slf)?;
        if convert::is_index(key) {
            let index = convert::index(key)?;
            let map = slf.get().map()?;
            let byte = map.byte_at(absolute(index, map.len())).map_err(to_py)?;
            return Ok(byte.into_pyobject(py)?.into_any());
        }
        let Ok(slice) = key.cast::<PySlice>() else {
            return Err(PyTypeError::new_err("mmap indices must be integers"));
        };
        let parts = unpack(slice)?;
        let map = slf.get().map()?;
        let (start, count) = adjust(parts, map.len());
        if parts.2 == 1 && count >= DETACH_BYTES {
            drop(map);
            let fill = |dst: *mut u8| {
                slf.get()
                    .read_detached(py, start, dst, count)?
                    .map_err(to_py)
            };
            return Ok(convert::bytes_with(py, count, fill)?.into_any());
        }
        let bytes = PyBytes::new_with(py, count, |buf| {
            match parts.2 {
                1 => map.read_at(start, buf).map(drop),
                step => map.read_strided(start, step, buf),
            }
            .map_err(to_py)
        })?;
        Ok(bytes.into_any())
    }

    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        assign(slf, key, Some(value))
    }

    fn __delitem__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        assign(slf, key, None)
    }

    fn __iter__(slf: &Bound<'_, Self>) -> ByteIterator {
        ByteIterator::new(slf, 0, false)
    }

    fn __reversed__(slf: &Bound<'_, Self>) -> PyResult<ByteIterator> {
        let len = slf.get().map()?.len();
        Ok(ByteIterator::new(slf, len, true))
    }

    /// `x in m` compares `x` with each byte as a 1-byte bytes object.
    fn __contains__(slf: &Bound<'_, Self>, item: &Bound<'_, PyAny>) -> PyResult<bool> {
        ensure_open(slf)?;
        if item.is_exact_instance_of::<PyBytes>() || item.is_exact_instance_of::<PyByteArray>() {
            let needle = Bytes::new(item)?.to_needle()?;
            if needle.len() != 1 {
                return Ok(false);
            }
            let found = slf.get().map()?.find(&needle, ..).map_err(to_py)?;
            return Ok(found.is_some());
        }
        let bytes = ByteIterator::new(slf, 0, false);
        while let Some(byte) = bytes.__next__(slf.py())? {
            if byte.as_any().eq(item)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let this = slf.get();
        let mut map = this.map_mut()?;
        // SAFETY: passed on from the caller; `slf` is this object.
        match unsafe { this.export(slf.as_ptr(), &mut map, view, flags) } {
            0 => Ok(()),
            _ => Err(PyErr::fetch(slf.py())),
        }
    }

    unsafe fn __releasebuffer__(&self, _view: *mut ffi::Py_buffer) {
        self.release_export();
    }
}

/// `m[key] = value`, or `del m[key]` when `value` is `None`.
fn assign(
    slf: &Bound<'_, PyMmap>,
    key: &Bound<'_, PyAny>,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    ensure_open_before_arguments(slf)?;
    if slf.get().access == Access::Read {
        return Err(to_py(Error::ReadOnly.into()));
    }
    if convert::is_index(key) {
        let index = convert::index(key)?;
        if !versions::ITEM_VALUE_BEFORE_INDEX {
            check_index(slf, index)?;
        }
        let value = item_value(value)?;
        // The value's __index__ may have shrunk the map: the core checks the
        // index again against the current length.
        let mut map = slf.get().map_mut()?;
        let index = absolute(index, map.len());
        return map.set_byte(index, value).map_err(to_py);
    }
    let Ok(slice) = key.cast::<PySlice>() else {
        return Err(PyTypeError::new_err("mmap indices must be integer"));
    };
    let parts = unpack(slice)?;
    let Some(value) = value else {
        return Err(PyTypeError::new_err(
            "mmap object doesn't support slice deletion",
        ));
    };
    let data = Bytes::new(value)?;
    let mut map = slf.get().map_mut()?;
    // Normalised only now: getting the buffer may have resized the map.
    let (start, count) = adjust(parts, map.len());
    if data.len() != count {
        return Err(PyIndexError::new_err("mmap slice assignment is wrong size"));
    }
    match parts.2 {
        // SAFETY: the view keeps its bytes readable until it is dropped,
        // after this call; the copy behaves like memmove.
        1 => unsafe { map.write_at_raw(start, data.as_ptr(), count) },
        // Copied first, so that a source overlapping the map reads as it was.
        step => map.write_strided(start, step, &data.to_vec()?),
    }
    .map_err(to_py)
}

/// The IndexError of `m[index] = value` for an index out of range.
fn check_index(slf: &Bound<'_, PyMmap>, index: isize) -> PyResult<()> {
    let len = slf.get().map()?.len();
    match absolute(index, len) < len {
        true => Ok(()),
        false => Err(PyIndexError::new_err("mmap index out of range")),
    }
}

/// The byte `m[i] = value` stores: `value` must be an int in 0..256
/// (`None` is a deletion, refused).
fn item_value(value: Option<&Bound<'_, PyAny>>) -> PyResult<u8> {
    let Some(value) = value else {
        return Err(PyTypeError::new_err("mmap doesn't support item deletion"));
    };
    if !convert::is_index(value) {
        return Err(PyTypeError::new_err("mmap item value must be an int"));
    }
    // SAFETY: a borrowed pointer to a type object that lives forever.
    let value = convert::ssize_or(value, unsafe { ffi::PyExc_TypeError })?;
    u8::try_from(value)
        .map_err(|_| PyValueError::new_err("mmap item value must be in range(0, 256)"))
}

/// A scan of `range` with the workers asked for (by default, as many as
/// [`safemmap::cpu::available_cpu_count`] says).
fn scan(view: View, range: std::ops::Range<usize>, workers: Option<usize>) -> Scan<'static> {
    let scan = view.scan(range);
    match workers {
        Some(workers) => scan.workers(workers),
        None => scan,
    }
}

/// find (rfind if `reverse`): the needle, then start (default: the
/// position) and end (default: the length), normalised like slice bounds.
fn search(
    slf: &Bound<'_, PyMmap>,
    sub: &Bound<'_, PyAny>,
    start: Opt<'_>,
    end: Opt<'_>,
    workers: Option<usize>,
    reverse: bool,
) -> PyResult<isize> {
    ensure_open_before_arguments(slf)?;
    let needle = Bytes::new(sub)?.to_needle()?;
    // From 3.14 the needle alone is converted before the closed-check.
    ensure_open(slf)?;
    let start = start.map(search_bound)?.flatten();
    let end = end.map(search_bound)?.flatten();
    let range = {
        let map = slf.get().map()?;
        let len = map.len();
        let start = start.unwrap_or(map.position() as isize);
        search_bounds(start, end.unwrap_or(len as isize), len)
    };
    match range {
        Some(range) => slf
            .get()
            .search_range(slf.py(), range, &needle, workers, reverse),
        None => Ok(-1),
    }
}

/// A start or end of find/rfind: `None` (from 3.14) leaves the default.
fn search_bound(bound: &Bound<'_, PyAny>) -> PyResult<Option<isize>> {
    if versions::SEARCH_BOUNDS_MAY_BE_NONE && bound.is_none() {
        return Ok(None);
    }
    convert::ssize(bound).map(Some)
}

/// The range find/rfind look in, from their bounds (treated like slice
/// bounds), or `None` where nothing can be found: from 3.15, from a start
/// past the end (`b""` included, as `bytes.find`).
pub(crate) fn search_bounds(start: isize, end: isize, len: usize) -> Option<Range<usize>> {
    if versions::NOTHING_PAST_THE_END && start > len as isize {
        return None;
    }
    Some(clamp_bound(start, len)..clamp_bound(end, len))
}

/// Whether the interpreter runs in development mode (`-X dev`).
fn dev_mode(py: Python<'_>) -> PyResult<bool> {
    py.import("sys")?
        .getattr("flags")?
        .getattr("dev_mode")?
        .is_truthy()
}

/// Iteration yields 1-byte bytes objects, as CPython's sequence protocol
/// does, checking the bounds against the current length at each step.
/// Frozen, like `mmap`, so that a step costs no atomic borrow flag.
#[pyclass(module = "safemmap", frozen)]
pub struct ByteIterator {
    map: Py<PyMmap>,
    /// The next index going forwards; one past it going backwards. Only
    /// touched with the GIL held: atomic only to be `Sync`, at no cost.
    next: AtomicUsize,
    reverse: bool,
}

impl ByteIterator {
    fn new(map: &Bound<'_, PyMmap>, next: usize, reverse: bool) -> Self {
        ByteIterator {
            map: map.clone().unbind(),
            next: AtomicUsize::new(next),
            reverse,
        }
    }

    pub(crate) fn map(&self) -> &PyMmap {
        self.map.get()
    }

    /// The index of the next byte in a map of `len` bytes, if any is left.
    pub(crate) fn upcoming(&self, len: usize) -> Option<usize> {
        let next = self.next.load(Ordering::Relaxed);
        match self.reverse {
            false => (next < len).then_some(next),
            true => (next > 0 && next <= len).then(|| next - 1),
        }
    }

    /// Ends the iteration for good, as CPython's sequence iterators end,
    /// even if the map grows again.
    fn finish(&self) {
        let past_any = if self.reverse { 0 } else { usize::MAX };
        self.next.store(past_any, Ordering::Relaxed);
    }

    /// Moves past `index`, which [`upcoming`](Self::upcoming) gave.
    pub(crate) fn pass(&self, index: usize) {
        let next = if self.reverse { index } else { index + 1 };
        self.next.store(next, Ordering::Relaxed);
    }
}

#[pymethods]
impl ByteIterator {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let map = self.map().map()?;
        let Some(index) = self.upcoming(map.len()) else {
            self.finish();
            return Ok(None);
        };
        let byte = map.byte_at(index).map_err(to_py)?;
        self.pass(index);
        Ok(Some(PyBytes::new(py, &[byte])))
    }
}
