//! The hottest entry points as raw C functions.
//!
//! A call through PyO3's generated wrapper costs about 100 instructions
//! more than one of CPython's own C methods: a thread-local count of
//! attached calls (which a shared library reaches through `__tls_get_addr`),
//! panic catching and result plumbing. For `m[i]`, a short slice,
//! `read_byte()` and `readline()` that is a tenth to a fifth of the call.
//!
//! So the type's slots for these point here instead. A fast path serves
//! only the case that cannot fail: an open map that no operation holds, an
//! in-range int index, a slice of ints or `None` without a step, a read
//! that succeeds and is short (a long one lets go of the GIL). It runs no
//! Python code and creates no error. Anything else it *declines*, and the
//! call goes to the PyO3 method, which does the full work and raises
//! CPython's exact errors. The semantics thus live in
//! one place, `object.rs`; this module only takes short cuts through it.

use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

use crate::object::{absolute, clamp_bound, PyMmap, DETACH_BYTES};

/// PyO3's entry points, where declined calls go.
struct Fallbacks {
    subscript: ffi::binaryfunc,
    read_byte: Py<PyAny>,
    readline: Py<PyAny>,
}

static FALLBACKS: OnceLock<Fallbacks> = OnceLock::new();

/// The ints 0-255, for byte values: an array read is cheaper than a call
/// to CPython's own cache.
static BYTE_VALUES: OnceLock<[Py<PyAny>; 256]> = OnceLock::new();

/// Points `mmap`'s subscript slot, its `__getitem__` wrapper (which
/// `m.__getitem__(k)` calls and subclasses take their slot from) and its
/// `read_byte` and `readline` methods at the fast paths, keeping PyO3's
/// versions as fallbacks.
pub fn install(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let type_ptr = ty.as_type_ptr();
    // SAFETY: `mmap` is a heap type, so its mapping methods live in its own
    // writable PyHeapTypeObject; PyO3 filled the subscript slot.
    let mapping = unsafe { &mut *(*type_ptr).tp_as_mapping };
    let original = mapping.mp_subscript.expect("mmap defines __getitem__");
    let fallbacks = Fallbacks {
        subscript: original,
        read_byte: ty.getattr("read_byte")?.unbind(),
        readline: ty.getattr("readline")?.unbind(),
    };
    if FALLBACKS.set(fallbacks).is_err() {
        return Ok(()); // Installed already.
    }
    let byte_value = |i: usize| {
        let Ok(int) = (i as u8).into_pyobject(ty.py());
        int.into_any().unbind()
    };
    let _ = BYTE_VALUES.set(std::array::from_fn(byte_value));
    mapping.mp_subscript = Some(subscript);
    let getitem = ty.getattr("__getitem__")?;
    let wrapper = getitem.as_ptr().cast::<ffi::PyWrapperDescrObject>();
    // SAFETY: the descriptor's fields are read only once its type shows it
    // is a wrapper descriptor; one that wraps PyO3's subscript function is
    // the `__getitem__` wrapper CPython made for this type's slot, which
    // calls `d_wrapped` as a `binaryfunc`, as `subscript` is.
    unsafe {
        let is_wrapper = ffi::Py_TYPE(getitem.as_ptr()) == &raw mut ffi::PyWrapperDescr_Type;
        if is_wrapper && (*wrapper).d_wrapped == original as *mut std::ffi::c_void {
            (*wrapper).d_wrapped = subscript as *mut std::ffi::c_void;
        }
    }
    let methods: [(&std::ffi::CStr, _, _); 2] = [
        (
            c"read_byte",
            c"read_byte($self)\n--\n\n",
            read_byte as ffi::PyCFunction,
        ),
        (c"readline", c"readline($self)\n--\n\n", readline),
    ];
    for (name, doc, function) in methods {
        // The type holds on to its method definitions for ever.
        let def = Box::leak(Box::new(ffi::PyMethodDef {
            ml_name: name.as_ptr(),
            ml_meth: ffi::PyMethodDefPointer {
                PyCFunction: function,
            },
            ml_flags: ffi::METH_NOARGS,
            ml_doc: doc.as_ptr(),
        }));
        // SAFETY: a method descriptor for this type from a definition that
        // outlives it; NULL on error.
        let method = unsafe {
            Bound::from_owned_ptr_or_err(ty.py(), ffi::PyDescr_NewMethod(type_ptr, def))?
        };
        // SAFETY: a heap type's dict is a plain dict; the type is told below.
        let ret = unsafe {
            ffi::PyDict_SetItemString((*type_ptr).tp_dict, name.as_ptr(), method.as_ptr())
        };
        if ret == -1 {
            return Err(PyErr::fetch(ty.py()));
        }
    }
    // SAFETY: `type_ptr` is a live type whose dict and slots just changed.
    unsafe { ffi::PyType_Modified(type_ptr) };
    Ok(())
}

/// Runs `fast` on the map behind `slf`, and `fallback` if it declines (or
/// panics: the full method will report the panic as an exception).
///
/// # Safety
///
/// The caller is the interpreter, attached, and `slf` an `mmap` instance.
unsafe fn serve(
    slf: *mut ffi::PyObject,
    fast: impl FnOnce(&PyMmap) -> Option<*mut ffi::PyObject>,
    fallback: impl FnOnce(&Fallbacks) -> *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: the interpreter calls slot functions attached; `slf` is an
    // instance of `mmap` or of a subclass, which shares its layout.
    let this = unsafe {
        Bound::ref_from_ptr(Python::assume_attached(), &slf)
            .cast_unchecked::<PyMmap>()
            .get()
    };
    match catch_unwind(AssertUnwindSafe(|| fast(this))) {
        Ok(Some(result)) => result,
        _ => decline(fallback),
    }
}

/// Hands a call to PyO3's method. Kept out of line, so that the fast paths
/// need fewer registers saved.
#[cold]
#[inline(never)]
fn decline(fallback: impl FnOnce(&Fallbacks) -> *mut ffi::PyObject) -> *mut ffi::PyObject {
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
        let map = this.open_map()?;
        // SAFETY: `key` is a live object the caller lends us.
        if let Some(index) = unsafe { exact_int(key) } {
            return byte_value(ok(map.byte_at(absolute(index, map.len())))?);
        }
        // SAFETY: as above.
        let (start, count) = unsafe { plain_slice(key, map.len())? };
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
    let fast = |this: &PyMmap| byte_value(ok(this.open_map_mut()?.read_byte())?);
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve(slf, fast, |f| call(&f.read_byte, slf)) }
}

/// `readline()`.
unsafe extern "C" fn readline(
    slf: *mut ffi::PyObject,
    _no_args: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    let fast = |this: &PyMmap| {
        let mut map = this.open_map_mut()?;
        let count = ok(map.line_len())?;
        if count >= DETACH_BYTES {
            return None; // As for slices.
        }
        // SAFETY: the new object's buffer is writable and seen by nobody else.
        new_bytes(count, |dst| unsafe { map.read_raw(dst, count) })
    };
    // SAFETY: called by the interpreter as a method of `mmap`.
    unsafe { serve(slf, fast, |f| call(&f.readline, slf)) }
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

/// The first index and length of `key`'s bytes in a map of `len`, if `key`
/// is a slice without a step whose bounds are ints or `None`.
///
/// # Safety
///
/// `key` is a live object.
unsafe fn plain_slice(key: *mut ffi::PyObject, len: usize) -> Option<(usize, usize)> {
    // SAFETY: `key` is live, and read as a slice only once known to be one;
    // a slice's fields are live objects.
    unsafe {
        if ffi::PySlice_Check(key) == 0 {
            return None;
        }
        let slice = &*key.cast::<ffi::PySliceObject>();
        if slice.step != ffi::Py_None() {
            return None;
        }
        let bound = |bound, default| match bound == ffi::Py_None() {
            true => Some(default),
            false => exact_int(bound),
        };
        let start = clamp_bound(bound(slice.start, 0)?, len);
        let stop = clamp_bound(bound(slice.stop, len as isize)?, len);
        Some((start, stop.saturating_sub(start)))
    }
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
