//! Typed reads and writes at an offset: numbers in a chosen byte order,
//! many of them at once, and plain-old-data values (feature `bytemuck`).
//! All of them go through [`Mmap::read_exact_at`] and
//! [`Mmap::write_all_at`], whose accesses of up to 16 bytes the compiler
//! inlines: a read costs a bounds check, a load and a test more than a
//! slice index.

use std::io;

use super::Mmap;
use crate::error::Error;

/// A number that [`Mmap::read_le`], [`Mmap::write_be`] and their kin read
/// and write: `u8` to `u128`, `i8` to `i128`, `usize`, `isize`, `f32` and
/// `f64`. Sealed: its methods are the standard library's
/// `from_le_bytes` and friends.
pub trait Scalar: Copy + sealed::Bytes {}

mod sealed {
    /// A [`Scalar`](super::Scalar)'s byte representation.
    pub trait Bytes: Sized {
        type Array: AsRef<[u8]> + AsMut<[u8]> + Default + Copy;
        fn from_le(bytes: Self::Array) -> Self;
        fn from_be(bytes: Self::Array) -> Self;
        fn to_le(self) -> Self::Array;
        fn to_be(self) -> Self::Array;
    }
}

macro_rules! scalars {
    ($($ty:ty),*) => {$(
        impl sealed::Bytes for $ty {
            type Array = [u8; std::mem::size_of::<$ty>()];

            #[inline(always)]
            fn from_le(bytes: Self::Array) -> Self {
                <$ty>::from_le_bytes(bytes)
            }

            #[inline(always)]
            fn from_be(bytes: Self::Array) -> Self {
                <$ty>::from_be_bytes(bytes)
            }

            #[inline(always)]
            fn to_le(self) -> Self::Array {
                self.to_le_bytes()
            }

            #[inline(always)]
            fn to_be(self) -> Self::Array {
                self.to_be_bytes()
            }
        }

        impl Scalar for $ty {}
    )*};
}

scalars!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize, f32, f64);

impl Mmap {
    /// The `T` stored little-endian at `offset`. A range that reaches past
    /// the end fails as in [`read_exact_at`](Self::read_exact_at), with
    /// [`Error::RangePastEnd`] (kind
    /// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof)); a fault with
    /// [`Error::Fault`].
    ///
    /// ```
    /// let mut map = safemmap::Mmap::anonymous(16)?;
    /// map.write_le(4, 0x1234_5678_u32)?;
    /// assert_eq!(map.read_le::<u32>(4)?, 0x1234_5678);
    /// assert_eq!(map.read_be::<u16>(4)?, 0x7856);
    /// assert!(map.read_le::<u64>(12).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn read_le<T: Scalar>(&self, offset: usize) -> io::Result<T> {
        self.read_array::<T>(offset).map(T::from_le)
    }

    /// The `T` stored big-endian at `offset`; see [`read_le`](Self::read_le).
    #[inline]
    pub fn read_be<T: Scalar>(&self, offset: usize) -> io::Result<T> {
        self.read_array::<T>(offset).map(T::from_be)
    }

    /// Stores `value` little-endian at `offset`, all of it or, if it does
    /// not fit before the end, nothing: as
    /// [`write_all_at`](Self::write_all_at).
    #[inline]
    pub fn write_le<T: Scalar>(&mut self, offset: usize, value: T) -> io::Result<()> {
        self.write_all_at(offset, value.to_le().as_ref())
    }

    /// Stores `value` big-endian at `offset`; see [`write_le`](Self::write_le).
    #[inline]
    pub fn write_be<T: Scalar>(&mut self, offset: usize, value: T) -> io::Result<()> {
        self.write_all_at(offset, value.to_be().as_ref())
    }

    /// Fills `out[i]` with the `T` stored little-endian at `offsets[i]`, for
    /// every `i`: a batch of [`read_le`](Self::read_le) calls, for random
    /// lookups. The two slices must be as long as each other
    /// ([`Error::GatherLengthMismatch`] otherwise, reading nothing); an
    /// offset out of range or a fault stops it with that error, the values
    /// before it filled in.
    ///
    /// ```
    /// let mut map = safemmap::Mmap::anonymous(64)?;
    /// map.write_le(8, 7_u64)?;
    /// map.write_le(40, 9_u64)?;
    /// let mut values = [0_u64; 2];
    /// map.gather_le(&[40, 8], &mut values)?;
    /// assert_eq!(values, [9, 7]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn gather_le<T: Scalar>(&self, offsets: &[usize], out: &mut [T]) -> io::Result<()> {
        self.gather(offsets, out, T::from_le)
    }

    /// [`gather_le`](Self::gather_le) of big-endian values.
    #[inline]
    pub fn gather_be<T: Scalar>(&self, offsets: &[usize], out: &mut [T]) -> io::Result<()> {
        self.gather(offsets, out, T::from_be)
    }

    #[inline(always)]
    fn gather<T: Scalar>(
        &self,
        offsets: &[usize],
        out: &mut [T],
        decode: impl Fn(T::Array) -> T,
    ) -> io::Result<()> {
        if offsets.len() != out.len() {
            return Err(Error::GatherLengthMismatch.into());
        }
        // The map's base and length in locals: stores into `out` would
        // otherwise make the loop load them again for every value.
        let mem = self.mem();
        let last = self.len().checked_sub(std::mem::size_of::<T>());
        for (&offset, value) in offsets.iter().zip(out) {
            match last {
                Some(last) if offset <= last => {}
                _ => return Err(Error::RangePastEnd.into()),
            }
            let mut bytes = T::Array::default();
            mem.read(offset, bytes.as_mut())?;
            *value = decode(bytes);
        }
        Ok(())
    }

    /// The bytes of a `T` at `offset`.
    #[inline(always)]
    fn read_array<T: Scalar>(&self, offset: usize) -> io::Result<T::Array> {
        let mut bytes = T::Array::default();
        self.read_exact_at(offset, bytes.as_mut())?;
        Ok(bytes)
    }

    /// The plain-old-data value stored at `offset`, in the machine's byte
    /// order and layout (unaligned is fine): as
    /// [`read_exact_at`](Self::read_exact_at) into its bytes.
    ///
    /// ```
    /// #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
    /// #[repr(C)]
    /// struct Record { key: u64, value: u32, flags: u32 }
    ///
    /// let mut map = safemmap::Mmap::anonymous(64)?;
    /// map.write_pod(16, &Record { key: 1, value: 2, flags: 3 })?;
    /// let record: Record = map.read_pod(16)?;
    /// assert_eq!((record.key, record.value, record.flags), (1, 2, 3));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(feature = "bytemuck")]
    #[inline]
    pub fn read_pod<T: bytemuck::Pod>(&self, offset: usize) -> io::Result<T> {
        let mut value = T::zeroed();
        self.read_exact_at(offset, bytemuck::bytes_of_mut(&mut value))?;
        Ok(value)
    }

    /// Stores a plain-old-data value at `offset`, in the machine's byte
    /// order and layout: as [`write_all_at`](Self::write_all_at) of its
    /// bytes.
    #[cfg(feature = "bytemuck")]
    #[inline]
    pub fn write_pod<T: bytemuck::NoUninit>(&mut self, offset: usize, value: &T) -> io::Result<()> {
        self.write_all_at(offset, bytemuck::bytes_of(value))
    }
}
