//! The Python module `safemmap`: CPython's `mmap` as the running version has
//! it (3.13's on 3.9-3.12; `versions` decides), over the fault-safe core
//! crate. This crate only translates:
//! arguments, errors and the buffer protocol (`object`, `convert`,
//! `errors`), with short cuts past PyO3's wrappers for the hottest calls
//! (`fast`) and the sequence item slots PyO3 cannot express (`sequence`).

mod convert;
mod cpu;
mod errors;
mod fast;
mod lock;
mod object;
mod sequence;
mod threads;
mod versions;

use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};

/// Puts safemmap's fault handler back on top (after `faulthandler.enable`).
#[pyfunction]
fn _install_fault_handler() {
    safemmap::install_fault_handler();
}

/// Stops chaining to the handler safemmap went over last (after
/// `faulthandler.disable`, which put back what it had displaced).
#[pyfunction]
fn _forget_displaced_handler() {
    safemmap::forget_displaced_handler();
}

/// Sets the worker count scans use by default (`__init__` passes its
/// `available_cpu_count()`, which honours `-X cpu_count`).
#[pyfunction]
fn _set_default_workers(workers: usize) {
    safemmap::set_default_workers(workers);
}

/// Makes `safemmap` the home of `mmap`: its `__module__`, which pickle,
/// `help()`, `repr(safemmap.mmap)` and `inspect` go by. The type's C name
/// stays `mmap.mmap`, as the stdlib's: it is what an instance's `repr` and
/// the interpreter's own messages ("'mmap.mmap' object ...") print, and
/// CPython's test_repr wants `<mmap.mmap closed=...>` (README, deliberate
/// differences).
fn name_home(ty: &Bound<'_, PyType>) -> PyResult<()> {
    let home = PyString::new(ty.py(), "safemmap");
    fast::add_to_type(ty, c"__module__", home.as_any())?;
    // SAFETY: a live type whose dict just changed.
    unsafe { pyo3::ffi::PyType_Modified(ty.as_type_ptr()) };
    Ok(())
}

// `gil_used = true`: a free-threaded interpreter turns the GIL back on
// when it imports the module (warning that it does). The object's state is
// guarded for free-threaded builds too (`lock.rs`), and the module builds
// warning-free with `false`; what remains before flipping it is to run the
// test suites, the threaded tests above all, on a 3.14t or 3.15t
// interpreter, which this project's machines do not have.
#[pymodule(gil_used = true)]
fn _safemmap(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<object::PyMmap>()?;
    name_home(&py.get_type::<object::PyMmap>())?;
    fast::install(
        &py.get_type::<object::PyMmap>(),
        &py.get_type::<object::ByteIterator>(),
    )?;
    sequence::install(&py.get_type::<object::PyMmap>());
    module.add_function(wrap_pyfunction!(_install_fault_handler, module)?)?;
    module.add_function(wrap_pyfunction!(_forget_displaced_handler, module)?)?;
    module.add_function(wrap_pyfunction!(_set_default_workers, module)?)?;
    cpu::register(module)?;
    module.add("error", py.get_type::<pyo3::exceptions::PyOSError>())?;
    for access in [
        safemmap::Access::Default,
        safemmap::Access::Read,
        safemmap::Access::Write,
        safemmap::Access::Copy,
    ] {
        module.add(access.name(), access.as_raw())?;
    }
    for &(name, value) in safemmap::raw::CONSTANTS {
        module.add(name, value)?;
    }
    module.add("PAGESIZE", safemmap::page_size())?;
    module.add("ALLOCATIONGRANULARITY", safemmap::allocation_granularity())?;
    Ok(())
}
