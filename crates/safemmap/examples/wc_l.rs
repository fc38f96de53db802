//! `wc -l`: counts the newlines of a file, as `wc -l FILE` prints them.
//! The count runs in the map, in parallel for large files (the `parallel`
//! feature); a file cut short meanwhile is an error, not a crash.
//!
//! cargo run --release --example wc_l -- FILE

use std::fs::File;
use std::io;

fn main() -> io::Result<()> {
    let path = std::env::args().nth(1).expect("usage: wc_l FILE");
    let map = safemmap::Mmap::map_read_only(&File::open(&path)?)?;
    println!("{} {path}", map.count(b"\n", ..)?);
    Ok(())
}
