fn main() {
    // Sets cfg flags such as `Py_3_10` for the interpreter being built for.
    pyo3_build_config::use_pyo3_cfgs();
    // On Windows, names the interpreter's DLL (`python313`) for the C
    // functions this crate declares itself, which link it by name
    // (raw-dylib) as pyo3-ffi's do: no import library is needed.
    println!("cargo:rustc-check-cfg=cfg(python_dll, values(any()))");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        if let Some(dll) = pyo3_build_config::get().lib_name() {
            println!("cargo:rustc-cfg=python_dll=\"{dll}\"");
        }
    }
}
