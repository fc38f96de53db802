//! The counts behind `safemmap.cpu_count()` and its siblings
//! (`python/safemmap/_cpu.py`). That module finds the override, which only
//! the interpreter knows (`-X cpu_count`, `-E`), and passes it in: these
//! functions never read `PYTHON_CPU_COUNT` themselves.

use std::num::NonZeroUsize;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use safemmap::cpu::Override;

/// `default` -> None, a valid count -> the count; ValueError otherwise.
#[pyfunction]
fn _parse_cpu_count(value: &str) -> PyResult<Option<usize>> {
    Override::parse(value)
        .map(|parsed| parsed.0.map(NonZeroUsize::get))
        .map_err(|err| PyValueError::new_err(err.to_string()))
}

#[pyfunction]
fn _cpu_count(count: Option<NonZeroUsize>) -> Option<usize> {
    Override(count).cpu_count()
}

#[pyfunction]
fn _process_cpu_count(count: Option<NonZeroUsize>) -> Option<usize> {
    Override(count).process_cpu_count()
}

#[pyfunction]
fn _available_cpu_count(count: Option<NonZeroUsize>) -> usize {
    Override(count).available_cpu_count()
}

pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(_parse_cpu_count, module)?)?;
    module.add_function(wrap_pyfunction!(_cpu_count, module)?)?;
    module.add_function(wrap_pyfunction!(_process_cpu_count, module)?)?;
    module.add_function(wrap_pyfunction!(_available_cpu_count, module)?)?;
    Ok(())
}
