//! Errors in CPython's shapes: the exception type and message `mmap` uses.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::{PyIndexError, PyOSError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use safemmap::Error;

pub fn closed() -> PyErr {
    PyValueError::new_err("mmap closed or invalid")
}

/// `size()` of a map made with `trackfd=False`, from 3.15.
pub fn size_untracked() -> PyErr {
    PyValueError::new_err("can't get size with trackfd=False")
}

/// The exception CPython raises for `err`: its own type for the crate's
/// refusals, `OSError(errno, strerror)` (and so the errno's subclass, such
/// as PermissionError) for the operating system's.
pub fn to_py(err: io::Error) -> PyErr {
    if let Some(refusal) = safemmap::refusal(&err) {
        let message = refusal.to_string();
        return match refusal {
            Error::Fault(fault) => PyOSError::new_err((fault.os_error, message)),
            // The OS's refusal, which the core explains to Rust callers.
            Error::FileNotWritable { os_error } => from_errno(os_error),
            Error::ReadOnly | Error::ResizeNotAllowed => PyTypeError::new_err(message),
            Error::IndexOutOfRange => PyIndexError::new_err(message),
            Error::AdviseLengthTooLarge => PyOverflowError::new_err(message),
            _ => PyValueError::new_err(message),
        };
    }
    match err.raw_os_error() {
        Some(errno) => from_errno(errno),
        None => PyOSError::new_err(err.to_string()),
    }
}

/// `OSError(errno, os.strerror(errno))`, as CPython raises it.
fn from_errno(errno: i32) -> PyErr {
    Python::attach(|py| {
        let strerror = py
            .import("os")
            .and_then(|os| os.call_method1("strerror", (errno,)))
            .map_or_else(
                |_| io::Error::from_raw_os_error(errno).to_string(),
                |s| s.to_string(),
            );
        PyOSError::new_err((errno, strerror))
    })
}

/// [`to_py`] for a write that failed: a fault part way gives the error
/// `characters_written`, the bytes stored (io's name, as in
/// `BlockingIOError`).
pub fn write_to_py(err: io::Error) -> PyErr {
    counting(err, "characters_written")
}

/// [`to_py`] for a `readinto` that failed: a fault part way gives the
/// error `characters_read`, the bytes stored in the buffer.
pub fn readinto_to_py(err: io::Error) -> PyErr {
    counting(err, "characters_read")
}

/// [`to_py`], with `attribute` set to the bytes transferred if a fault
/// stopped the copy.
fn counting(err: io::Error, attribute: &str) -> PyErr {
    let fault = matches!(safemmap::refusal(&err), Some(Error::Fault(_)));
    let transferred = safemmap::transferred(&err);
    let py_err = to_py(err);
    if fault {
        Python::attach(|py| py_err.value(py).setattr(attribute, transferred))
            .expect("an OSError takes attributes");
    }
    py_err
}

/// For raw C entry points: the value of `body`, or `failed` with its error
/// (or panic) raised, as CPython expects of a failed call.
pub fn raising<T>(py: Python<'_>, failed: T, body: impl FnOnce() -> PyResult<T>) -> T {
    let error = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error,
        Err(_) => PanicException::new_err("safemmap panicked"),
    };
    error.restore(py);
    failed
}
