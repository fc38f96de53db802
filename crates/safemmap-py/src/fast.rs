//! The hottest entry points as raw C functions.
//!
//! A call through PyO3's generated wrapper costs about 100 instructions
//! more than one of CPython's own C methods: a thread-local count of
//! attached calls (which a shared library reaches through `__tls_get_addr`),
//! panic catching and result plumbing. For `m[i]`, `m[i] = v`, a short
//! slice, `len(m)`, `tell()`, `read_byte()`, `readline()`, a short `find()`,
//! a step of `iter(m)`, `with m:` or a buffer request (`memoryview(m)`,
//! `struct.unpack_from(fmt, m)`) that is a tenth to a third of the call.
//!
//! So the type's slots and those methods point here instead. A fast path
//! serves only the case that cannot fail: an open map that no operation
//! holds, exact ints, a slice of ints or `None`, exact bytes
//! (immutable, never mapped memory), no keywords, work that succeeds and is
//! short (a long one lets go of the GIL). It runs no Python code and creates
//! no error. Anything else it *declines*, and the call goes to the PyO3
//! method, which does the full work and raises CPython's exact errors. The
//! semantics thus live in one place, `object.rs`; this module only takes
//! short cuts through it (`seekable()` and `closed`, which cannot fail, live
//! only here).

use std::ffi::c_void;
use std::io::{Seek, SeekFrom};
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PySlice, PyType};
use safemmap::Mmap;

use crate::convert;
use crate::errors::{raising, to_py, write_to_py};
use crate::object::{
    absolute, adjust, clamp_bound, search_bounds, unpack, ByteIterator, PyMmap, DETACH_BYTES,
};

/// PyO3's entry points, where declined calls go.
struct Fallbacks {
    subscript: ffi::binaryfunc,
    assign: ffi::objobjargproc,
    length: ffi::lenfunc,
    get_buffer: ffi::getbufferproc,
    next_byte: ffi::iternextfunc,
    read_byte: Py<PyAny>,
    readline: Py<PyAny>,
    tell: Py<PyAny>,
    enter: Py<PyAny>,
    find: Py<PyAny>,
    rfind: Py<PyAny>,
    seek: Py<PyAny>,
    read: Py<PyAny>,
    write: Py<PyAny>,
    write_byte: Py<PyAny>,
    move_: Py<PyAny>,
}

static FALLBACKS: OnceLock<Fallbacks> = OnceLock::new();

/// The ints 0-255, for byte values: an array read is cheaper than a call
/// to CPython's own cache.
static BYTE_VALUES: OnceLock<[Py<PyAny>; 256]> = OnceLock::new();

/// Points `mmap`'s subscript, item assignment, length and buffer slots, the
/// wrappers of them that `m.__getitem__(k)` and the like call (and
/// subclasses take their slots from), and its `read_byte`, `readline`,
/// `tell`, `seekable`, `__enter__`, `find`, `rfind`, `seek`, `read`,
/// `write`, `write_byte` and `move` methods and `closed`
/// property at the fast paths, and the next-item slot of its byte iterator
/// (`iterator`), keeping PyO3's versions as fallbacks.
pub fn install(ty: &Bound<'_, PyType>, iterator: &Bound<'_, PyType>) -> PyResult<()> {
    let type_ptr = ty.as_type_ptr();
    let iterator_ptr = iterator.as_type_ptr();
    // SAFETY: `mmap` is a heap type, so its slot tables live in its own
    // writable PyHeapTypeObject; PyO3 filled the slots `__getitem__`,
    // `__setitem__`, `__len__`, `__getbuffer__` and `__releasebuffer__`
    // stand for.
    let (mapping, sequence, buffer) = unsafe {
        (
            &mut *(*type_ptr).tp_as_mapping,
            &mut *(*type_ptr).tp_as_sequence,
            &mut *(*type_ptr).tp_as_buffer,
        )
    };
    let method = |name| ty.getattr(name).map(Bound::unbind);
    let fallbacks = Fallbacks {
        subscript: mapping.mp_subscript.expect("mmap defines __getitem__"),
        assign: mapping.mp_ass_subscript.expect("mmap defines __setitem__"),
        length: mapping.mp_length.expect("mmap defines __len__"),
        get_buffer: buffer.bf_getbuffer.expect("mmap defines __getbuffer__"),
        // SAFETY: a live type object.
        next_byte: unsafe { (*iterator_ptr).tp_iternext }.expect("the iterator defines __next__"),
        read_byte: method("read_byte")?,
        readline: method("readline")?,
        tell: method("tell")?,
        enter: method("__enter__")?,
        find: method("find")?,
        rfind: method("rfind")?,
        seek: method("seek")?,
        read: method("read")?,
        write: method("write")?,
        write_byte: method("write_byte")?,
        move_: method("move")?,
    };
    let originals = [
        (
            "__getitem__",
            fallbacks.subscript as *mut c_void,
            subscript as *mut c_void,
        ),
        ("__setitem__", fallbacks.assign as _, assign as _),
        ("__delitem__", fallbacks.assign as _, assign as _),
        ("__len__", fallbacks.length as _, length as _),
        // Python 3.12 and later only.
        ("__buffer__", fallbacks.get_buffer as _, get_buffer as _),
        (
            "__release_buffer__",
            buffer
                .bf_releasebuffer
                .expect("mmap defines __releasebuffer__") as _,
            release_buffer as _,
        ),
    ];
    let next_original = fallbacks.next_byte as *mut c_void;
    if FALLBACKS.set(fallbacks).is_err() {
        return Ok(()); // Installed already.
    }
    let byte_value = |i: usize| {
        let Ok(int) = (i as u8).into_pyobject(ty.py());
        int.into_any().unbind()
    };
    let _ = BYTE_VALUES.set(std::array::from_fn(byte_value));
    mapping.mp_subscript = Some(subscript);
    mapping.mp_ass_subscript = Some(assign);
    mapping.mp_length = Some(length);
    // PyO3 leaves it empty; CPython's mmap has it, so `PySequence_Size`
    // works and `len(m)` finds it first (before `mp_length`).
    sequence.sq_length = Some(length);
    buffer.bf_getbuffer = Some(get_buffer);
    buffer.bf_releasebuffer = Some(release_buffer);
    for (name, original, replacement) in originals {
        if ty.hasattr(name)? {
            retarget_wrapper(ty, name, original, replacement)?;
        }
    }
    add_methods(ty)?;
    add_closed(ty)?;
    retarget_wrapper(iterator, "__next__", next_original, next_byte as _)?;
    // SAFETY: live types; the iterator, a heap type, owns its slots. Both
    // are told their dict and slots changed.
    unsafe {
        (*iterator_ptr).tp_iternext = Some(next_byte);
        ffi::PyType_Modified(type_ptr);
        ffi::PyType_Modified(iterator_ptr);
    }
    Ok(())
}

/// Makes the wrapper descriptor `name`, which CPython made to call the slot
/// function `original`, call `replacement` instead.
fn retarget_wrapper(
    ty: &Bound<'_, PyType>,
    name: &str,
    original: *mut c_void,
    replacement: *mut c_void,
) -> PyResult<()> {
    let wrapper = ty.getattr(name)?;
    let descriptor = wrapper.as_ptr().cast::<ffi::PyWrapperDescrObject>();
    // SAFETY: the descriptor's fields are read only once its type shows it
    // is a wrapper descriptor; one that wraps PyO3's function is the wrapper
    // CPython made for this type's slot, which calls `d_wrapped` with the
    // slot's signature, which the replacement has.
    unsafe {
        let is_wrapper = ffi::Py_TYPE(wrapper.as_ptr()) == &raw mut ffi::PyWrapperDescr_Type;
        if is_wrapper && (*descriptor).d_wrapped == original {
            (*descriptor).d_wrapped = replacement;
        }
    }
    Ok(())
}

/// Puts the fast methods in the type's dict, over PyO3's.
fn add_methods(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let no_args = |function| {
        let function = ffi::PyMethodDefPointer {
            PyCFunction: function,
        };
        (function, ffi::METH_NOARGS)
    };
    let fastcall = |function| {
        let function = ffi::PyMethodDefPointer {
            PyCFunctionFastWithKeywords: function,
        };
        (function, ffi::METH_FASTCALL | ffi::METH_KEYWORDS)
    };
    let methods = [
        (
            c"read_byte",
            c"read_byte($self)\n--\n\n",
            no_args(read_byte),
        ),
        (c"readline", c"readline($self)\n--\n\n", no_args(readline)),
        (c"tell", c"tell($self)\n--\n\n", no_args(tell)),
        (c"__enter__", c"__enter__($self)\n--\n\n", no_args(enter)),
        (c"seekable", c"seekable($self)\n--\n\n", no_args(seekable)),
        (
            c"find",
            c"find($self, sub, start=..., end=..., /, *, workers=None)\n--\n\n",
            fastcall(search::<false>),
        ),
        (
            c"rfind",
            c"rfind($self, sub, start=..., end=..., /, *, workers=None)\n--\n\n",
            fastcall(search::<true>),
        ),
        (
            c"seek",
            c"seek($self, dist, whence=0, /)\n--\n\n",
            fastcall(seek),
        ),
        (c"read", c"read($self, n=None, /)\n--\n\n", fastcall(read)),
        (c"write", c"write($self, data, /)\n--\n\n", fastcall(write)),
        (
            c"write_byte",
            c"write_byte($self, value, /)\n--\n\n",
            fastcall(write_byte),
        ),
        (
            c"move",
            c"move($self, dest, src, count, /)\n--\n\n",
            fastcall(move_),
        ),
    ];
    for (name, doc, (function, flags)) in methods {
        // The type holds on to its method definitions for ever.
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: name.as_ptr(),
            ml_meth: function,
            ml_flags: flags,
            ml_doc: doc.as_ptr(),
        }));
        // SAFETY: a method descriptor for this type from a definition that
        // outlives it; NULL on error.
        let method = unsafe {
            Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(ty.as_type_ptr(), def))?
        };
        add_to_type(ty, name, &method)?;
    }
    Ok(())
}

/// Puts the fast `closed` property in the type's dict, over PyO3's.
fn add_closed(ty: &Bound<'_, PyType>) -> PyResult<()> {
    // The type holds on to its property definitions for ever.
    let def = Box::leak(Box::new(ffi::PyGetSetDef {
        name: c"closed".as_ptr(),
        get: Some(closed),
        set: None,
        doc: std::ptr::null(),
        closure: std::ptr::null_mut(),
    }));
    // SAFETY: a property for this type from a definition that outlives it;
    // NULL on error.
    let property = unsafe {
        Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewGetSet(ty.as_type_ptr(), def))?
    };
    add_to_type(ty, c"closed", &property)
}

/// Puts `attribute` in the type's dict under `name` (the caller tells the
/// type with `PyType_Modified` once done).
pub(crate) fn add_to_type(
    ty: &Bound<'_, PyType>,
    name: &std::ffi::CStr,
    attribute: &Bound<'_, PyAny>,
) -> PyResult<()> {
    // SAFETY: a heap type's dict is a plain dict, and this type is live.
    let ret = unsafe {
        ffi::PyDict_SetItemString(
            (*ty.as_type_ptr()).tp_dict,
            name.as_ptr(),
            attribute.as_ptr(),
        )
    };
    if ret == -1 {
        return Err(PyErr::fetch(ty.py()));
    }
    Ok(())
}

/// Runs `fast` on the map behind `slf` with the object's lock held (unless
/// a close or resize has reserved it), and
/// `fallback` (without it) if `fast` declines (or panics: the full method
/// will report the panic as an exception).
///
/// `fast` runs no Python code (no conversion that may call back, no GIL or
/// lock released, nothing that may run a finalizer), so nothing else can
/// reach the map meanwhile: it may use [`PyMmap::peek`] instead of borrowing.
///
/// # Safety
///
/// The caller is the interpreter, attached, and `slf` an `mmap` instance.
unsafe fn serve<R>(
    slf: *mut ffi::PyObject,
    fast: impl FnOnce(&PyMmap) -> Option<R>,
    fallback: impl FnOnce(&Fallbacks) -> R,
) -> R {
    // SAFETY: passed on from the caller.
    let this = unsafe { instance(&slf) };
    let locked = || {
        let _held = this.hold();
        // A close or resize under way: the full method waits for it, and
        // works on the map it leaves.
        if this.reserved() {
            return None;
        }
        fast(this)
    };
    attempt(locked, fallback)
}

/// Runs `fast`, and `fallback` if it declines or panics.
fn attempt<R>(fast: impl FnOnce() -> Option<R>, fallback: impl FnOnce(&Fallbacks) -> R) -> R {
    match catch_unwind(AssertUnwindSafe(fast)) {
        Ok(Some(result)) => result,
        _ => decline(fallback),
    }
}

/// The object behind `slf`.
///
/// # Safety
///
/// The caller is the interpreter, attached, and `slf` an `mmap` instance
/// (or one of a subclass, which shares its layout).
unsafe fn instance(slf: &*mut ffi::PyObject) -> &PyMmap {
    // SAFETY: passed on from the caller.
    unsafe { convert::receiver::<PyMmap>(slf) }.get()
}

/// Hands a call to PyO3's method. Kept out of line, so that the fast paths
/// need fewer registers saved.
#[cold]
#[inline(never)]
fn decline<R>(fallback: impl FnOnce(&Fallbacks) -> R) -> R {
    // `install` fills the fallbacks before pointing any slot here.
    fallback(FALLBACKS.get().expect("fallbacks installed"))
}

/// The value of a core result, or `None` to decline; the error is dropped
/// out of line.
fn ok<T>(result: std::io::Result<T>) -> Option<T> {
    #[cold]
    #[inline(never)]
    fn discard(_: std::io::Error) {}
    result.map_err(discard).ok()
}

/// The object `value` makes of a core result, or else its error raised as
/// `to_py`, the full method's conversion, raises it: for operations that a
/// failure may leave part done (a write's stored prefix, and the position
/// past it), which the full method must not do again.
fn finish<T>(
    result: std::io::Result<T>,
    to_py: fn(std::io::Error) -> PyErr,
    value: impl FnOnce(T) -> *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    match result {
        Ok(done) => value(done),
        Err(err) => {
            // SAFETY: fast paths run attached (see `serve`).
            to_py(err).restore(unsafe { Python::assume_attached() });
            std::ptr::null_mut()
        }
    }
}

/// Calls one of PyO3's methods on `slf`.
///
/// # Safety
///
/// As for [`serve`].
unsafe fn call(method: &Py<PyAny>, slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: both objects are live; the result is a new reference or NULL.
    unsafe { ffi::PyObject_CallOneArg(method.as_ptr(), slf) }
}

/// `m[key]`.
unsafe extern "C" fn subscript(
    slf: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap| {
        // SAFETY: a fast path runs no Python code (see `serve`).
        let map = unsafe { this.peek() }?;
        // SAFETY: `key` is a live object the caller lends us.
        if let Some(index) = unsafe { exact_int(key) } {
            return byte_value(ok(map.byte_at(absolute(index, map.len())))?);
        }
        // SAFETY: as above.
        let (start, step, count) = unsafe { int_slice(key, map.len())? };
        if step != 1 {
            // SAFETY: the new object's buffer holds `count` bytes, zeroed
            // before a slice is made of it, and is seen by nobody else.
            return new_bytes(count, |dst| unsafe {
                dst.write_bytes(0, count);
                map.read_strided(start, step, std::slice::from_raw_parts_mut(dst, count))
            });
        }
        if count >= DETACH_BYTES {
            return None; // The full method reads it without the GIL.
        }
        // SAFETY: the new object's buffer is writable and seen by nobody else.
        new_bytes(count, |dst| unsafe { map.read_at_raw(start, dst, count) })
    };
    // SAFETY: called by the interpreter as the slot of `mmap`.
    unsafe { serve(slf, fast, |fallbacks| (fallbacks.subscript)(slf, key)) }
}

/// `read_byte()`.
unsafe extern "C" fn read_byte(
    slf: *mut ffi::PyObject,
    _no_args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: a fast path runs no Python code (see `serve`).
    let fast = |this: &PyMmap| byte_value(ok(unsafe { this.peek_mut() }?.read_byte())?);
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve(slf, fast, |f| call(&f.read_byte, slf)) }
}

/// `readline()`.
unsafe extern "C" fn readline(
    slf: *mut ffi::PyObject,
    _no_args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap| {
        // SAFETY: a fast path runs no Python code (see `serve`).
        let map = unsafe { this.peek_mut() }?;
        let line = ok(map.next_line())?;
        let count = line.len();
        if count >= DETACH_BYTES {
            return Some(long_read(this, count));
        }
        // SAFETY: the new object's buffer is writable, seen by nobody else,
        // and allocated by the interpreter, outside the map.
        new_bytes(count, |dst| unsafe { line.copy_to(dst) })
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve(slf, fast, |f| call(&f.readline, slf)) }
}

/// Reads `count` bytes found to be many (a long line, a long `read`)
/// without the GIL, as the full method would, rather than decline and have
/// it find them again. Out of line, so that short reads need fewer
/// registers saved.
#[cold]
#[inline(never)]
fn long_read(this: &PyMmap, count: usize) -> *mut ffi::PyObject {
    // SAFETY: fast paths run attached (see `serve`).
    let py = unsafe { Python::assume_attached() };
    raising(py, std::ptr::null_mut(), || {
        let map = this.map_mut()?;
        this.read_advancing(py, map, count).map(Bound::into_ptr)
    })
}

/// `next(it)` of an iterator over a map's bytes (or its reverse).
unsafe extern "C" fn next_byte(slf: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as the slot of the iterator type,
    // attached. The end of the iteration is the full method's to report.
    let iterator = unsafe { convert::receiver::<ByteIterator>(&slf) }.get();
    let fast = || {
        let _held = iterator.map().hold();
        // SAFETY: a fast path runs no Python code (see `serve`), and holds
        // the lock.
        let map = unsafe { iterator.map().peek() }?;
        let index = iterator.upcoming(map.len())?;
        let byte = ok(map.byte_at(index))?;
        // SAFETY: a one-byte source; CPython hands out its cached object.
        let bytes = unsafe { ffi::PyBytes_FromStringAndSize((&raw const byte).cast(), 1) };
        let bytes = new_object(bytes)?;
        iterator.pass(index);
        Some(bytes)
    };
    attempt(fast, |f| unsafe { (f.next_byte)(slf) })
}

/// Searches a long range as the full method would once it has its
/// arguments (the GIL let go of past the first MiB), rather than decline
/// and have them converted again. Out of line, so that short searches need
/// fewer registers saved.
#[inline(never)]
fn long_search(
    this: &PyMmap,
    range: std::ops::Range<usize>,
    needle: &[u8],
    reverse: bool,
) -> *mut ffi::PyObject {
    // SAFETY: fast paths run attached (see `serve`).
    let py = unsafe { Python::assume_attached() };
    raising(py, std::ptr::null_mut(), || {
        let found = this.search_range(py, range, needle, None, reverse)?;
        // SAFETY: plain C call; NULL with an error set if it fails.
        Ok(unsafe { ffi::PyLong_FromSsize_t(found) })
    })
}

/// `seekable()`: a map always is.
unsafe extern "C" fn seekable(
    _slf: *mut ffi::PyObject,
    _no_args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the caller is attached.
    unsafe { new_ref(ffi::Py_True()) }
}

/// The `closed` property.
unsafe extern "C" fn closed(slf: *mut ffi::PyObject, _closure: *mut c_void) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as a property of `mmap`.
    let closed = unsafe { instance(&slf) }.is_closed();
    // SAFETY: the caller is attached.
    unsafe {
        new_ref(if closed {
            ffi::Py_True()
        } else {
            ffi::Py_False()
        })
    }
}

/// `fast(map)` for the open map behind `slf`, or else the PyO3 method
/// `method` picks: for the methods whose fast path can neither fail nor
/// panic, and so needs no [`serve`].
///
/// # Safety
/// As for [`serve`]; `fast` runs no Python code.
unsafe fn open_or(
    slf: *mut ffi::PyObject,
    method: impl FnOnce(&Fallbacks) -> &Py<PyAny>,
    fast: impl FnOnce(&Mmap) -> *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: passed on from the caller.
    let this = unsafe { instance(&slf) };
    let served = {
        let _held = this.hold();
        // SAFETY: `fast` runs no Python code, and the lock is held.
        unsafe { this.peek() }.map(fast)
    };
    // SAFETY: passed on from the caller.
    served.unwrap_or_else(|| decline(|f| unsafe { call(method(f), slf) }))
}

/// `tell()`.
unsafe extern "C" fn tell(
    slf: *mut ffi::PyObject,
    _no_args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as a method of `mmap`; the int's
    // MemoryError, if any, is the full method's too.
    unsafe {
        open_or(
            slf,
            |f| &f.tell,
            |map| ffi::PyLong_FromSize_t(map.position()),
        )
    }
}

/// `__enter__()`: the map itself, if it is open.
unsafe extern "C" fn enter(
    slf: *mut ffi::PyObject,
    _no_args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { open_or(slf, |f| &f.enter, |_| new_ref(slf)) }
}

/// `memoryview(m)` and every other request for the map's buffer.
unsafe extern "C" fn get_buffer(
    slf: *mut ffi::PyObject,
    view: *mut ffi::Py_buffer,
    flags: c_int,
) -> c_int {
    let fast = |this: &PyMmap| {
        // SAFETY: a fast path runs no Python code (see `serve`).
        let map = unsafe { this.peek_mut() }?;
        // SAFETY: the interpreter hands `view` over to be filled.
        if unsafe { this.export(slf, map, view, flags) } == 0 {
            return Some(0);
        }
        // SAFETY: plain C call; the full method raises the error again.
        unsafe { ffi::PyErr_Clear() };
        None
    };
    // SAFETY: called by the interpreter as the slot of `mmap`.
    unsafe { serve(slf, fast, |f| (f.get_buffer)(slf, view, flags)) }
}

/// The release of a view [`get_buffer`] (or the full method) lent: a
/// count, cheaper than PyO3's wrapper around it.
unsafe extern "C" fn release_buffer(slf: *mut ffi::PyObject, _view: *mut ffi::Py_buffer) {
    // SAFETY: called by the interpreter as the slot of `mmap`.
    unsafe { instance(&slf) }.release_export();
}

/// `len(m)`.
unsafe extern "C" fn length(slf: *mut ffi::PyObject) -> ffi::Py_ssize_t {
    // SAFETY: called by the interpreter as the slot of `mmap`; a fast path
    // runs no Python code (see `serve`). A map is never longer than
    // `isize::MAX`.
    unsafe {
        serve(
            slf,
            |this| Some(this.peek()?.len() as isize),
            |f| (f.length)(slf),
        )
    }
}

/// `m[key] = value` (and `del m[key]`, always declined).
unsafe extern "C" fn assign(
    slf: *mut ffi::PyObject,
    key: *mut ffi::PyObject,
    value: *mut ffi::PyObject,
) -> c_int {
    let fast = |this: &PyMmap| {
        if value.is_null() {
            return None;
        }
        // SAFETY: a fast path runs no Python code (see `serve`).
        let map = unsafe { this.peek_mut() }?;
        // SAFETY: `key` and `value` are live objects the caller lends us.
        if let Some(index) = unsafe { exact_int(key) } {
            let byte = u8::try_from(unsafe { exact_int(value) }?).ok()?;
            let index = absolute(index, map.len());
            return ok(map.set_byte(index, byte)).map(|()| 0);
        }
        // SAFETY: as above.
        let (start, step, count) = unsafe { int_slice(key, map.len())? };
        let data = unsafe { exact_bytes(value) }?;
        (data.len() == count).then_some(())?;
        let written = match step {
            1 => map.write_at(start, data),
            step => map.write_strided(start, step, data),
        };
        ok(written).map(|()| 0)
    };
    // SAFETY: called by the interpreter as the slot of `mmap`.
    unsafe { serve(slf, fast, |f| (f.assign)(slf, key, value)) }
}

/// `find(sub[, start[, end]])`, or `rfind` if `REVERSE`: served for an
/// exact bytes needle, exact-int bounds if any and a range short enough to
/// search with the GIL held.
unsafe extern "C" fn search<const REVERSE: bool>(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap, positional: &[*mut ffi::PyObject]| {
        let (&needle, bounds) = positional.split_first()?;
        if bounds.len() > 2 {
            return None;
        }
        // SAFETY (both): live objects the caller lends us.
        let needle = unsafe { exact_bytes(needle) }?;
        let bound = |i: usize| bounds.get(i).map(|&bound| unsafe { exact_int(bound) });
        // SAFETY: a fast path runs no Python code (see `serve`).
        let map = unsafe { this.peek() }?;
        let len = map.len();
        let start = bound(0).unwrap_or(Some(map.position() as isize))?;
        let end = bound(1).unwrap_or(Some(len as isize))?;
        let found = match search_bounds(start, end, len) {
            None => None,
            Some(range) if range.len() >= DETACH_BYTES => {
                // `map` is not used past here: the long search may run Python
                // code. `needle`, exact bytes the caller holds, stays alive and
                // unchanged while the GIL is let go of.
                return Some(long_search(this, range, needle, REVERSE));
            }
            Some(range) => {
                let scan = map.scan(range);
                ok(if REVERSE {
                    scan.rfind(needle)
                } else {
                    scan.find(needle)
                })?
            }
        };
        // SAFETY: plain C call; a failure leaves an error to clear.
        new_object(unsafe { ffi::PyLong_FromSsize_t(found.map_or(-1, |i| i as isize)) })
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe {
        serve_positional(
            slf,
            args,
            nargs,
            kwnames,
            |f| if REVERSE { &f.rfind } else { &f.find },
            fast,
        )
    }
}

/// `seek(dist[, whence])`.
unsafe extern "C" fn seek(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap, positional: &[*mut ffi::PyObject]| {
        // SAFETY (all): live objects the caller lends us.
        let (dist, whence) = match *positional {
            [dist] => (unsafe { exact_int(dist) }?, 0),
            [dist, whence] => (unsafe { exact_int(dist) }?, unsafe { exact_int(whence) }?),
            _ => return None,
        };
        let to = match whence {
            0 => SeekFrom::Start(convert::unsigned(dist) as u64),
            1 => SeekFrom::Current(dist as i64),
            2 => SeekFrom::End(dist as i64),
            _ => return None,
        };
        // SAFETY: a fast path runs no Python code (see `serve`).
        let position = ok(unsafe { this.peek_mut() }?.seek(to))?;
        // SAFETY: plain C call; a failure leaves an error to clear.
        new_object(unsafe { ffi::PyLong_FromUnsignedLongLong(position) })
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve_positional(slf, args, nargs, kwnames, |f| &f.seek, fast) }
}

/// `read([n])`: a long read lets go of the GIL, as the full method does.
unsafe extern "C" fn read(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap, positional: &[*mut ffi::PyObject]| {
        // SAFETY: a live object the caller lends us. A negative count, as
        // `None`, means the rest of the map.
        let wanted = match *positional {
            [] => None,
            [n] if unsafe { n == ffi::Py_None() } => None,
            [n] => usize::try_from(unsafe { exact_int(n) }?).ok(),
            _ => return None,
        };
        // SAFETY: a fast path runs no Python code (see `serve`).
        let map = unsafe { this.peek_mut() }?;
        let count = wanted.map_or(map.remaining(), |n| n.min(map.remaining()));
        if count >= DETACH_BYTES {
            return Some(long_read(this, count));
        }
        // SAFETY: the new object's buffer is writable, seen by nobody else,
        // and allocated by the interpreter, outside the map.
        new_bytes(count, |dst| unsafe { map.read_raw(dst, count) })
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve_positional(slf, args, nargs, kwnames, |f| &f.read, fast) }
}

/// `write(data)`, for exact bytes shorter than a long write (which the
/// full method does without the GIL).
unsafe extern "C" fn write(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap, positional: &[*mut ffi::PyObject]| {
        let [data] = *positional else { return None };
        // SAFETY: a live object the caller lends us.
        let data = unsafe { exact_bytes(data) }?;
        if data.len() >= DETACH_BYTES {
            return None;
        }
        // SAFETY: a fast path runs no Python code (see `serve`). Exact
        // bytes are never mapped memory and stay readable for the call.
        let map = unsafe { this.peek_mut() }?;
        let written = unsafe { map.write_raw(data.as_ptr(), data.len()) };
        // SAFETY: plain C call; NULL with an error set if it fails.
        Some(finish(written, write_to_py, |()| unsafe {
            ffi::PyLong_FromSize_t(data.len())
        }))
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve_positional(slf, args, nargs, kwnames, |f| &f.write, fast) }
}

/// `write_byte(value)`.
unsafe extern "C" fn write_byte(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap, positional: &[*mut ffi::PyObject]| {
        let [value] = *positional else { return None };
        // SAFETY: a live object the caller lends us.
        let value = u8::try_from(unsafe { exact_int(value) }?).ok()?;
        // SAFETY: a fast path runs no Python code (see `serve`).
        ok(unsafe { this.peek_mut() }?.write_byte(value))?;
        // SAFETY: the caller is attached.
        Some(unsafe { new_ref(ffi::Py_None()) })
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve_positional(slf, args, nargs, kwnames, |f| &f.write_byte, fast) }
}

/// `move(dest, src, count)`.
unsafe extern "C" fn move_(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap, positional: &[*mut ffi::PyObject]| {
        // SAFETY (all): live objects the caller lends us. A negative int
        // goes through `unsigned` as in the full method, whose bounds check
        // refuses it (declined).
        let [dest, src, count] = *positional else {
            return None;
        };
        let int = |obj| unsafe { exact_int(obj) }.map(convert::unsigned);
        let (dest, src, count) = (int(dest)?, int(src)?, int(count)?);
        // SAFETY: a fast path runs no Python code (see `serve`).
        let copied = unsafe { this.peek_mut() }?.copy_within(dest, src, count);
        // SAFETY: the caller is attached.
        Some(finish(copied, to_py, |()| unsafe {
            new_ref(ffi::Py_None())
        }))
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve_positional(slf, args, nargs, kwnames, |f| &f.move_, fast) }
}

/// [`serve`] for a vectorcall method: `fast` gets the positional arguments
/// of a call without keywords; any other call, or one `fast` declines, goes
/// to the PyO3 method `method` picks, with the caller's arguments as given.
///
/// # Safety
///
/// As for [`serve`]; `args`, `nargs` and `kwnames` are the interpreter's
/// vectorcall arguments.
unsafe fn serve_positional(
    slf: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargs: ffi::Py_ssize_t,
    kwnames: *mut ffi::PyObject,
    method: impl FnOnce(&Fallbacks) -> &Py<PyAny>,
    fast: impl FnOnce(&PyMmap, &[*mut ffi::PyObject]) -> Option<*mut ffi::PyObject>,
) -> *mut ffi::PyObject {
    // SAFETY: the caller's arguments, live for the call.
    let positional = unsafe { std::slice::from_raw_parts(args, nargs as usize) };
    let fast = |this: &PyMmap| match kwnames.is_null() {
        true => fast(this, positional),
        false => None,
    };
    let fallback = |fallbacks: &Fallbacks| {
        let keywords = match kwnames.is_null() {
            true => 0,
            // SAFETY: `kwnames` is a tuple when given.
            false => unsafe { ffi::PyTuple_GET_SIZE(kwnames) },
        };
        // SAFETY: the keyword values follow the positional arguments.
        let all = unsafe { std::slice::from_raw_parts(args, (nargs + keywords) as usize) };
        let with_self: Vec<_> = std::iter::once(slf).chain(all.iter().copied()).collect();
        // SAFETY: a method descriptor called with its instance first, the
        // caller's arguments after it; a new reference or NULL.
        unsafe {
            ffi::PyObject_Vectorcall(
                method(fallbacks).as_ptr(),
                with_self.as_ptr(),
                (nargs + 1) as usize,
                kwnames,
            )
        }
    };
    // SAFETY: passed on from the caller.
    unsafe { serve(slf, fast, fallback) }
}

/// The value of `obj` if it is exactly an int (converting it runs no Python
/// code) and fits an `isize`.
///
/// # Safety
///
/// `obj` is a live object.
unsafe fn exact_int(obj: *mut ffi::PyObject) -> Option<isize> {
    // SAFETY: `obj` is live; only an int is converted, which cannot fail.
    unsafe {
        if ffi::PyLong_CheckExact(obj) == 0 {
            return None;
        }
        let mut overflow: c_int = 0;
        let value = ffi::PyLong_AsLongAndOverflow(obj, &mut overflow);
        (overflow == 0).then_some(value)?.try_into().ok()
    }
}

/// The first index, step and element count of `key` over a map of `len`,
/// if `key` is a slice whose fields are ints or `None` (and whose step is
/// not 0).
///
/// # Safety
///
/// `key` is a live object.
unsafe fn int_slice(key: *mut ffi::PyObject, len: usize) -> Option<(usize, isize, usize)> {
    // SAFETY: `key` is live, and read as a slice only once known to be one;
    // a slice's fields are live objects.
    unsafe {
        if ffi::PySlice_Check(key) == 0 {
            return None;
        }
        let slice = &*key.cast::<ffi::PySliceObject>();
        if slice.step != ffi::Py_None() {
            return strided_slice(slice, len);
        }
        let bound = |bound, default| match bound == ffi::Py_None() {
            true => Some(default),
            false => exact_int(bound),
        };
        let start = clamp_bound(bound(slice.start, 0)?, len);
        let stop = clamp_bound(bound(slice.stop, len as isize)?, len);
        Some((start, 1, stop.saturating_sub(start)))
    }
}

/// [`int_slice`] of a slice with a step, whose `None` bounds depend on it.
///
/// # Safety
///
/// `slice` is live.
unsafe fn strided_slice(slice: &ffi::PySliceObject, len: usize) -> Option<(usize, isize, usize)> {
    // SAFETY: the fields of a live slice are live objects. Unpacking ints
    // and `None` runs no Python code (a step of 0 is an error, dropped).
    unsafe {
        let int_or_none = |field| field == ffi::Py_None() || ffi::PyLong_CheckExact(field) != 0;
        if !int_or_none(slice.start) || !int_or_none(slice.stop) || !int_or_none(slice.step) {
            return None;
        }
        let key = std::ptr::from_ref(slice).cast_mut().cast();
        let key = Bound::ref_from_ptr(Python::assume_attached(), &key).cast_unchecked::<PySlice>();
        let parts = unpack(key).ok()?;
        let (start, count) = adjust(parts, len);
        Some((start, parts.2, count))
    }
}

/// The bytes of `obj` if it is exactly a bytes object: immutable, and never
/// mapped memory.
///
/// # Safety
///
/// `obj` is a live object, which outlives the slice.
unsafe fn exact_bytes<'a>(obj: *mut ffi::PyObject) -> Option<&'a [u8]> {
    // SAFETY: `obj` is live, and read as bytes only once known to be bytes.
    unsafe {
        if ffi::PyBytes_CheckExact(obj) == 0 {
            return None;
        }
        let data = ffi::PyBytes_AS_STRING(obj).cast::<u8>();
        Some(std::slice::from_raw_parts(data, ffi::Py_SIZE(obj) as usize))
    }
}

/// A new reference to `obj` (`Py_NewRef`, which Python 3.9 lacks).
///
/// # Safety
///
/// `obj` is live and the caller attached.
unsafe fn new_ref(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    // SAFETY: passed on from the caller.
    unsafe { ffi::Py_INCREF(obj) };
    obj
}

/// A new object from CPython, or `None` (no error left set) if it failed.
fn new_object(object: *mut ffi::PyObject) -> Option<*mut ffi::PyObject> {
    if object.is_null() {
        // SAFETY: plain C call.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    Some(object)
}

/// A new reference to the int object for a byte value.
fn byte_value(value: u8) -> Option<*mut ffi::PyObject> {
    let object = BYTE_VALUES.get()?[usize::from(value)].as_ptr();
    // SAFETY: the object lives for ever in `BYTE_VALUES`; the caller is attached.
    unsafe { ffi::Py_INCREF(object) };
    Some(object)
}

/// A new bytes object of `len` bytes written by `fill`; `None` (the object
/// freed, no error left set) if it cannot be allocated or `fill` fails.
fn new_bytes(
    len: usize,
    fill: impl FnOnce(*mut u8) -> std::io::Result<()>,
) -> Option<*mut ffi::PyObject> {
    // SAFETY: a NULL source asks for an uninitialised object of `len` bytes;
    // on failure the error is cleared, for the full method to raise again.
    let bytes = unsafe { ffi::PyBytes_FromStringAndSize(std::ptr::null(), len as isize) };
    if bytes.is_null() {
        // SAFETY: plain C call.
        unsafe { ffi::PyErr_Clear() };
        return None;
    }
    // SAFETY: `bytes` is a live bytes object holding `len` bytes.
    let buffer = unsafe { ffi::PyBytes_AS_STRING(bytes) }.cast_mut().cast();
    if ok(fill(buffer)).is_none() {
        // SAFETY: our only reference.
        unsafe { ffi::Py_DECREF(bytes) };
        return None;
    }
    Some(bytes)
}
