//! Sorts a file of `records` (16 bytes: a little-endian `u64` key, then a
//! value) by key, in place: the records are copied out, sorted, and
//! written back in one copy. A map cannot lend `&mut [u8]` to
//! `sort_unstable`, so this takes memory for a copy of the file.
//!
//! cargo run --release --example sort_records -- FILE

use std::fs::OpenOptions;
use std::io;

const RECORD: usize = 16;

fn main() -> io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: sort_records FILE");
    let file = OpenOptions::new().read(true).write(true).open(path)?;
    let mut map = safemmap::Mmap::map(&file)?;
    let mut records: Vec<[u8; RECORD]> = vec![[0; RECORD]; map.len() / RECORD];
    let bytes = records.as_flattened_mut();
    map.read_exact_at(0, bytes)?;
    records.sort_unstable_by_key(|record| u64::from_le_bytes(record[..8].try_into().unwrap()));
    map.write_all_at(0, records.as_flattened())?;
    map.flush()
}
