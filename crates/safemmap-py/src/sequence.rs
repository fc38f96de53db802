//! The old sequence protocol's item slots, which C code reaches through
//! `PySequence_GetItem` and `PySequence_SetItem` (`bisect` does).
//!
//! CPython's mmap defines them apart from `m[i]`: an item is a 1-byte
//! bytes object, and only one may be assigned. PyO3 derives them from
//! `__getitem__` and `__setitem__` (ints), so `bisect.bisect(m, b"5")`
//! compared ints with bytes. These replace PyO3's.

use std::os::raw::c_int;

use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};
use safemmap::Error;

use crate::convert;
use crate::errors::{raising, to_py};
use crate::object::PyMmap;

/// Points `mmap`'s sequence item slots here.
pub fn install(ty: &Bound<'_, PyType>) {
    // SAFETY: `mmap` is a heap type: its slot tables live in its own
    // writable PyHeapTypeObject. The type is told its slots changed.
    unsafe {
        let sequence = &mut *(*ty.as_type_ptr()).tp_as_sequence;
        sequence.sq_item = Some(item);
        sequence.sq_ass_item = Some(assign_item);
        ffi::PyType_Modified(ty.as_type_ptr());
    }
}

/// `PySequence_GetItem(m, i)`: the byte as a 1-byte bytes object. A
/// negative `i` is out of range (the caller has added the length).
fn get<'py>(m: &Bound<'py, PyMmap>, i: isize) -> PyResult<Bound<'py, PyBytes>> {
    let map = m.get().map()?;
    let byte = map.byte_at(offset(i)).map_err(to_py)?;
    Ok(PyBytes::new(m.py(), &[byte]))
}

/// `PySequence_SetItem(m, i, value)` (`value` `None` to delete), checked
/// in CPython's order: the range, deletion, the value, the access.
fn set(m: &Bound<'_, PyMmap>, i: isize, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let mut map = m.get().map_mut()?;
    let i = offset(i);
    if i >= map.len() {
        return Err(to_py(Error::IndexOutOfRange.into()));
    }
    let Some(value) = value else {
        return Err(PyTypeError::new_err(
            "mmap object doesn't support item deletion",
        ));
    };
    let byte = match value.cast::<PyBytes>().map(|bytes| bytes.as_bytes()) {
        Ok(&[byte]) => byte,
        _ => {
            return Err(PyIndexError::new_err(
                "mmap assignment must be length-1 bytes()",
            ))
        }
    };
    map.set_byte(i, byte).map_err(to_py)
}

/// An index as an offset; a negative one becomes one past any map.
fn offset(i: isize) -> usize {
    usize::try_from(i).unwrap_or(usize::MAX)
}

unsafe extern "C" fn item(slf: *mut ffi::PyObject, i: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    // SAFETY: called by the interpreter, attached, as the slot of `mmap`.
    let m = unsafe { convert::receiver::<PyMmap>(&slf) };
    raising(m.py(), std::ptr::null_mut(), || {
        get(m, i).map(Bound::into_ptr)
    })
}

unsafe extern "C" fn assign_item(
    slf: *mut ffi::PyObject,
    i: ffi::Py_ssize_t,
    value: *mut ffi::PyObject,
) -> c_int {
    // SAFETY: called by the interpreter, attached, as the slot of `mmap`;
    // `value` is a live object or NULL (deletion).
    let m = unsafe { convert::receiver::<PyMmap>(&slf) };
    let value = (!value.is_null()).then(|| unsafe { Bound::ref_from_ptr(m.py(), &value) });
    raising(m.py(), -1, || set(m, i, value).map(|()| 0))
}
