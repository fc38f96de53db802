//! A file of fixed-size records: 16 bytes each, a key and a value, both
//! little-endian `u64`. Records are read and written at their offsets,
//! all or nothing; no `&[u8]` over the file is ever made.
//!
//! cargo run --example records -- create FILE COUNT  (keys pseudo-random, value = index)
//! cargo run --example records -- get FILE INDEX...  (prints "key value")
//! cargo run --example records -- sum FILE           (the sum of the values)

use std::fs::OpenOptions;
use std::io;

use safemmap::Mmap;

const RECORD: usize = 16;

/// Reads record `index`: its key and value.
fn record(map: &Mmap, index: usize) -> io::Result<(u64, u64)> {
    let mut bytes = [0; RECORD];
    // An index past the end is an UnexpectedEof error, not a panic.
    map.read_exact_at(index * RECORD, &mut bytes)?;
    let (key, value) = bytes.split_at(8);
    Ok((
        u64::from_le_bytes(key.try_into().unwrap()),
        u64::from_le_bytes(value.try_into().unwrap()),
    ))
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, path) = match &args[..] {
        [command, path, ..] => (command.as_str(), path),
        _ => panic!("usage: records create|get|sum FILE ..."),
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(command == "create")
        .truncate(command == "create")
        .open(path)?;
    let mut map = Mmap::map(&file)?;
    match command {
        "create" => {
            let count: usize = args[2].parse().expect("a record count");
            map.resize(count * RECORD)?; // grows the file too
            let mut key = 0x9e37_79b9_7f4a_7c15_u64;
            for index in 0..count {
                key = key.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let mut bytes = [0; RECORD];
                bytes[..8].copy_from_slice(&(key >> 32).to_le_bytes());
                bytes[8..].copy_from_slice(&(index as u64).to_le_bytes());
                map.write_all_at(index * RECORD, &bytes)?;
            }
            map.flush()?;
        }
        "get" => {
            for index in &args[2..] {
                let (key, value) = record(&map, index.parse().expect("a record index"))?;
                println!("{key} {value}");
            }
        }
        "sum" => {
            // A block of records at a time: one guarded copy per 64 KiB.
            let mut block = vec![0; 4096 * RECORD];
            let (mut sum, mut at) = (0u64, 0);
            while at < map.len() {
                let got = map.read_at(at, &mut block)?;
                for record in block[..got].chunks_exact(RECORD) {
                    sum += u64::from_le_bytes(record[8..].try_into().unwrap());
                }
                at += got;
            }
            println!("{sum}");
        }
        _ => panic!("usage: records create|get|sum FILE ..."),
    }
    Ok(())
}
