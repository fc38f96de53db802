fn main() {
    // Sets cfg flags such as `Py_3_10` for the interpreter being built for.
    pyo3_build_config::use_pyo3_cfgs();
}
