//! The one seam between the crate and the operating system.
//!
//! Each backend offers the same small set of functions over raw pointers and
//! descriptors; nothing outside this module names an OS.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;
