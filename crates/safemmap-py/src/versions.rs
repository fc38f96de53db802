//! Where CPython's `mmap` changed after 3.13, and which side this build
//! takes: each versioned behaviour is decided here, once, from the
//! interpreter the module is compiled for (an extension is built per
//! interpreter version). Older interpreters get 3.13's behaviour.

/// 3.14 (Argument Clinic): a method converts its arguments before it
/// checks that the map is open (`m.seek("x")` on a closed map is a
/// TypeError); 3.13 checks first. Item assignment goes the same way.
pub const ARGUMENTS_BEFORE_CLOSED_CHECK: bool = cfg!(Py_3_14);

/// 3.14 (Argument Clinic): a method's C `int` argument (`seek`'s whence,
/// `madvise`'s option, `flush`'s flags) out of range is "Python int too
/// large to convert to C int"; 3.13 says "signed integer is greater than
/// maximum" (or "less than minimum", or names a C long).
pub const INT_OVERFLOW_NAMES_C_INT: bool = cfg!(Py_3_14);

/// 3.14: `m[i] = v` checks the value (and `del m[i]` refuses) before it
/// looks at the index; 3.13 checks the index first.
pub const ITEM_VALUE_BEFORE_INDEX: bool = cfg!(Py_3_14);

/// 3.14: `find` and `rfind` take `None` for start and end.
pub const SEARCH_BOUNDS_MAY_BE_NONE: bool = cfg!(Py_3_14);

/// 3.15: a search from a start past the end finds nothing, `b""` included,
/// as `bytes.find` does; 3.13 finds `b""` at the end.
pub const NOTHING_PAST_THE_END: bool = cfg!(Py_3_15);

/// 3.15: `size()` of an anonymous map is its length, and of a map made
/// with `trackfd=False` a ValueError; 3.13 gives OSError(EBADF) for both.
pub const SIZE_WITHOUT_A_FILE: bool = cfg!(Py_3_15);

/// 3.15: `flush(offset)` flushes to the end, and a size of -1 means the
/// rest of the map; 3.13 flushes the map's length from `offset` (out of
/// range for any offset but 0) and refuses -1. The size, now a plain
/// integer argument, is converted before the closed-check (3.14: after).
pub const FLUSH_TO_THE_END: bool = cfg!(Py_3_15);

/// The TypeError text of a slice bound that is not an integer (`count`'s
/// bounds, as `bytes.count`'s): 3.15 dropped "or None" from it.
pub const SLICE_BOUND_TYPE_ERROR: &str = if cfg!(Py_3_15) {
    "slice indices must be integers or have an __index__ method"
} else {
    "slice indices must be integers or None or have an __index__ method"
};
