//! Argument conversion with CPython's exact rules and messages: which
//! objects are accepted as which C type, and what each failure says.

use std::os::raw::{c_int, c_long};
use std::ptr::NonNull;

use pyo3::exceptions::{PyOverflowError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py;
use crate::versions;

/// The object a raw C entry point (a slot, a method) was called on.
///
/// # Safety
///
/// The caller is attached, and `slf` a live instance of `T` (or of a
/// subclass, which shares its layout).
pub unsafe fn receiver<T: pyo3::PyClass>(slf: &*mut ffi::PyObject) -> &Bound<'_, T> {
    // SAFETY: passed on from the caller.
    unsafe { Bound::ref_from_ptr(Python::assume_attached(), slf).cast_unchecked::<T>() }
}

/// The file a descriptor names, as the core maps it: on Unix the
/// descriptor itself (-1: anonymous memory).
#[cfg(unix)]
pub fn mapped_file(_py: Python<'_>, fileno: c_int) -> PyResult<c_int> {
    Ok(fileno)
}

/// The file a descriptor names, as the core maps it: on Windows the handle
/// behind a C runtime descriptor, or `INVALID_HANDLE_VALUE` (anonymous
/// memory) for -1 and 0, as in CPython. The handle comes from the
/// interpreter's `msvcrt.get_osfhandle`: the descriptor belongs to the
/// interpreter's C runtime, not to the one this module links.
#[cfg(windows)]
pub fn mapped_file(py: Python<'_>, fileno: c_int) -> PyResult<std::os::windows::io::RawHandle> {
    const INVALID_HANDLE_VALUE: isize = -1;
    let handle = match fileno {
        -1 | 0 => INVALID_HANDLE_VALUE,
        _ => py
            .import("msvcrt")?
            .call_method1("get_osfhandle", (fileno,))?
            .extract()?,
    };
    Ok(handle as std::os::windows::io::RawHandle)
}

/// Reads the result of a C-API call that signals errors with -1.
fn checked<T: PartialEq + From<i8>>(py: Python<'_>, value: T) -> PyResult<T> {
    if value == T::from(-1) {
        if let Some(err) = PyErr::take(py) {
            return Err(err);
        }
    }
    Ok(value)
}

/// `obj.__index__()`, as an owned reference.
fn as_int<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: PyNumber_Index returns a new reference or NULL with an error set.
    unsafe { Bound::from_owned_ptr_or_err(obj.py(), ffi::PyNumber_Index(obj.as_ptr())) }
}

/// Whether `obj` has `__index__` (an int, a bool, a numpy integer...).
pub fn is_index(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: PyIndex_Check only inspects the object's type.
    unsafe { ffi::PyIndex_Check(obj.as_ptr()) != 0 }
}

/// Whether `obj` is exactly an int (not a subclass, nor an `__index__`
/// object): converting it runs no Python code.
pub fn is_exact_int(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: PyLong_CheckExact only inspects the object's type.
    unsafe { ffi::PyLong_CheckExact(obj.as_ptr()) != 0 }
}

/// An index ("mmap[i]"): overflow raises IndexError "cannot fit 'int' into
/// an index-sized integer".
pub fn index(obj: &Bound<'_, PyAny>) -> PyResult<isize> {
    if is_exact_int(obj) {
        // SAFETY: `obj` is an int; this only reads it.
        let value = unsafe { ffi::PyLong_AsSsize_t(obj.as_ptr()) };
        if value != -1 || PyErr::take(obj.py()).is_none() {
            return Ok(value);
        }
        // Too large: let the general path raise CPython's IndexError.
    }
    // SAFETY: a borrowed pointer to a type object that lives forever.
    ssize_or(obj, unsafe { ffi::PyExc_IndexError })
}

/// A slice bound as `bytes.count` takes one: an int or `__index__` object,
/// clamped to the `Py_ssize_t` range rather than overflowing.
pub fn slice_index(obj: &Bound<'_, PyAny>) -> PyResult<isize> {
    if !is_index(obj) {
        return Err(PyTypeError::new_err(versions::SLICE_BOUND_TYPE_ERROR));
    }
    ssize_or(obj, std::ptr::null_mut())
}

/// A `Py_ssize_t` argument ("n" format): `Python int too large to convert to
/// C ssize_t` on overflow.
pub fn ssize(obj: &Bound<'_, PyAny>) -> PyResult<isize> {
    let int = as_int(obj)?;
    // SAFETY: `int` is a live int object.
    checked(obj.py(), unsafe { ffi::PyLong_AsSsize_t(int.as_ptr()) })
}

/// A `Py_ssize_t` from an object with `__index__`, overflow raising `exc`
/// with "cannot fit 'int' into an index-sized integer".
pub fn ssize_or(obj: &Bound<'_, PyAny>, exc: *mut ffi::PyObject) -> PyResult<isize> {
    // SAFETY: PyNumber_AsSsize_t accepts any object and a borrowed
    // exception type, and signals errors with -1.
    checked(obj.py(), unsafe {
        ffi::PyNumber_AsSsize_t(obj.as_ptr(), exc)
    })
}

/// A C `long` argument ("l" format; also CPython's `off_t` on Linux).
pub fn long(obj: &Bound<'_, PyAny>) -> PyResult<c_long> {
    let int = as_int(obj)?;
    // SAFETY: `int` is a live int object.
    checked(obj.py(), unsafe { ffi::PyLong_AsLong(int.as_ptr()) })
}

/// A C `int` argument ("i" format).
pub fn int(obj: &Bound<'_, PyAny>) -> PyResult<c_int> {
    let value = long(obj)?;
    c_int::try_from(value).map_err(|_| {
        PyOverflowError::new_err(if value > 0 {
            "signed integer is greater than maximum"
        } else {
            "signed integer is less than minimum"
        })
    })
}

/// A C `int` argument of a method: [`int`] up to 3.13, Argument Clinic's
/// conversion from 3.14 (see [`versions::INT_OVERFLOW_NAMES_C_INT`]).
pub fn method_int(obj: &Bound<'_, PyAny>) -> PyResult<c_int> {
    if !versions::INT_OVERFLOW_NAMES_C_INT {
        return int(obj);
    }
    let int = as_int(obj)?;
    let mut overflow: c_int = 0;
    // SAFETY: `int` is a live int object and `overflow` a valid out-pointer.
    let value = unsafe { ffi::PyLong_AsLongAndOverflow(int.as_ptr(), &mut overflow) };
    let value = checked(obj.py(), value)?;
    match c_int::try_from(value) {
        Ok(value) if overflow == 0 => Ok(value),
        _ => Err(PyOverflowError::new_err(
            "Python int too large to convert to C int",
        )),
    }
}

/// An unsigned byte argument ("b" format).
pub fn ubyte(obj: &Bound<'_, PyAny>) -> PyResult<u8> {
    let value = long(obj)?;
    u8::try_from(value).map_err(|_| {
        PyOverflowError::new_err(if value > 0 {
            "unsigned byte integer is greater than maximum"
        } else {
            "unsigned byte integer is less than minimum"
        })
    })
}

/// An optional size: None or an integer, negative meaning "all".
pub fn optional_size(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<usize>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    if !is_index(obj) {
        return Err(PyTypeError::new_err(format!(
            "argument should be integer or None, not '{}'",
            type_name(obj)
        )));
    }
    // SAFETY: a borrowed pointer to a type object that lives forever.
    let n = ssize_or(obj, unsafe { ffi::PyExc_OverflowError })?;
    Ok(usize::try_from(n).ok())
}

/// A size or index whose negative values the core rejects as out of range:
/// reinterpreting them as `usize` lands above `isize::MAX`.
pub fn unsigned(value: isize) -> usize {
    value as usize
}

/// A contiguous byte view of any object with the buffer protocol ("y*"),
/// released on drop.
///
/// The view is kept inline, not boxed: it is only ever asked for without
/// `PyBUF_ND`, so no exporter points it at its own fields, and moving it
/// is fine.
pub struct Bytes {
    view: ffi::Py_buffer,
}

impl Bytes {
    pub fn new(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
        Bytes::get(obj, ffi::PyBUF_SIMPLE)
    }

    /// A writable view ("w*"), as `readinto` wants.
    pub fn writable(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
        Bytes::get(obj, ffi::PyBUF_WRITABLE).map_err(|_| {
            PyTypeError::new_err(format!(
                "readinto() argument must be read-write bytes-like object, not {}",
                type_name(obj)
            ))
        })
    }

    fn get(obj: &Bound<'_, PyAny>, flags: c_int) -> PyResult<Bytes> {
        // SAFETY: Py_buffer is plain data that PyObject_GetBuffer fills in.
        let mut view: ffi::Py_buffer = unsafe { std::mem::zeroed() };
        // SAFETY: `view` is writable; on failure nothing needs releasing.
        let ret = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), &mut view, flags) };
        checked(obj.py(), ret)?;
        Ok(Bytes { view })
    }

    /// The first byte. It stays readable while `self` lives (and the GIL is
    /// held); it may be mapped memory, or even the very map being written.
    pub fn as_ptr(&self) -> *const u8 {
        NonNull::new(self.view.buf.cast::<u8>())
            .unwrap_or(NonNull::dangling())
            .as_ptr()
    }

    /// The first byte, for writing: only for a view from [`writable`](Self::writable).
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.as_ptr().cast_mut()
    }

    pub fn len(&self) -> usize {
        self.view.len as usize
    }

    /// A private copy of the bytes. The exporter's memory may be a shared
    /// mapping (another map's, whose file shrank): it is neither borrowed
    /// as a slice nor read but by the fault-safe copy.
    pub fn to_vec(&self) -> PyResult<Vec<u8>> {
        let mut copy = Vec::with_capacity(self.len());
        // SAFETY: the exporter keeps `len` bytes at `as_ptr` readable while
        // the view is held; the new vector has room for them and cannot
        // overlap them, and after the copy all `len` bytes are initialised.
        unsafe {
            safemmap::copy_fault_safe(copy.as_mut_ptr(), self.as_ptr(), self.len())
                .map_err(to_py)?;
            copy.set_len(self.len());
        }
        Ok(copy)
    }

    /// [`to_vec`](Self::to_vec) for a needle: a short one, as most are, is
    /// copied to the stack.
    pub fn to_needle(&self) -> PyResult<Needle> {
        let len = self.len();
        if len > SHORT_NEEDLE {
            return self.to_vec().map(Needle::Long);
        }
        let mut bytes = [0; SHORT_NEEDLE];
        // SAFETY: as in `to_vec`; the array has room for `len` bytes.
        unsafe { safemmap::copy_fault_safe(bytes.as_mut_ptr(), self.as_ptr(), len) }
            .map_err(to_py)?;
        Ok(Needle::Short(bytes, len))
    }
}

const SHORT_NEEDLE: usize = 64;

/// A private copy of the bytes to search for.
pub enum Needle {
    /// The first `.1` bytes.
    Short([u8; SHORT_NEEDLE], usize),
    Long(Vec<u8>),
}

impl std::ops::Deref for Needle {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Needle::Short(bytes, len) => &bytes[..*len],
            Needle::Long(bytes) => bytes,
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        // SAFETY: the view was filled by PyObject_GetBuffer and is released
        // once; every `Bytes` lives inside a method holding the GIL.
        unsafe { ffi::PyBuffer_Release(&mut self.view) };
    }
}

/// A new bytes object of `len` bytes that `fill` writes through a raw
/// pointer; nothing zeroes it first. If `fill` fails the object is dropped
/// unseen.
pub fn bytes_with<'py>(
    py: Python<'py>,
    len: usize,
    fill: impl FnOnce(*mut u8) -> PyResult<()>,
) -> PyResult<Bound<'py, PyBytes>> {
    // SAFETY: a NULL source asks CPython for an uninitialised object of
    // `len` bytes (or NULL with an error set).
    let bytes = unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyBytes_FromStringAndSize(std::ptr::null(), len as isize),
        )?
    };
    // SAFETY: `bytes` is a live bytes object; its buffer holds `len` bytes.
    fill(unsafe { ffi::PyBytes_AsString(bytes.as_ptr()) }.cast())?;
    // SAFETY: PyBytes_FromStringAndSize made a bytes object.
    Ok(unsafe { bytes.cast_into_unchecked() })
}

/// The needle of `count`: a bytes-like object or a byte value, as
/// `bytes.count` takes it.
pub fn needle(obj: &Bound<'_, PyAny>) -> PyResult<Needle> {
    if is_index(obj) {
        let value = ssize(obj)?;
        let byte = u8::try_from(value).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("byte must be in range(0, 256)")
        })?;
        let mut bytes = [0; SHORT_NEEDLE];
        bytes[0] = byte;
        return Ok(Needle::Short(bytes, 1));
    }
    let bytes = Bytes::new(obj).map_err(|_| {
        PyTypeError::new_err(format!(
            "argument should be integer or bytes-like object, not '{}'",
            type_name(obj)
        ))
    })?;
    bytes.to_needle()
}

/// The name of `obj`'s type as CPython's messages give it: `tp_name`, with
/// the module for extension types (`collections.deque`, `mmap.mmap`).
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    // SAFETY: every object has a type whose tp_name is a C string that lives
    // as long as the type.
    unsafe { std::ffi::CStr::from_ptr((*ffi::Py_TYPE(obj.as_ptr())).tp_name) }
        .to_string_lossy()
        .into_owned()
}

/// An optional positional argument. Unlike `Option`, an explicit `None`
/// counts as given, so that it is rejected like any other non-integer.
pub struct Opt<'py>(Option<Bound<'py, PyAny>>);

impl<'py> Opt<'py> {
    pub fn missing() -> Self {
        Opt(None)
    }

    /// Converts the argument if it was given.
    pub fn map<T>(
        &self,
        convert: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<T>,
    ) -> PyResult<Option<T>> {
        self.0.as_ref().map(convert).transpose()
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for Opt<'py> {
    type Error = PyErr;

    fn extract(obj: pyo3::Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        Ok(Opt(Some(obj.to_owned())))
    }
}
