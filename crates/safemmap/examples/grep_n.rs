//! `grep -nF`: prints each line holding a fixed string, with its number,
//! as `grep -nF NEEDLE FILE` does. Only the lines that match are copied
//! out of the map; the search and the line counting between matches run
//! in it.
//!
//! cargo run --release --example grep_n -- NEEDLE FILE

use std::fs::File;
use std::io::{self, Write};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(needle), Some(path)) = (args.next(), args.next()) else {
        panic!("usage: grep_n NEEDLE FILE");
    };
    let map = safemmap::Mmap::map_read_only(&File::open(path)?)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut line = Vec::new();
    // The start of the line `number`, the last one counted.
    let (mut counted_to, mut number) = (0, 1);
    let mut from = 0;
    while let Some(hit) = map.find(needle.as_bytes(), from..)? {
        let start = map.rfind(b"\n", ..hit)?.map_or(0, |newline| newline + 1);
        let end = map.find(b"\n", hit..)?.unwrap_or(map.len());
        number += map.count(b"\n", counted_to..start)?;
        counted_to = start;
        line.resize(end - start, 0);
        map.read_exact_at(start, &mut line)?;
        write!(out, "{number}:")?;
        out.write_all(&line)?;
        out.write_all(b"\n")?;
        from = end + 1;
    }
    out.flush()
}
