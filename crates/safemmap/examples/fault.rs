//! What a fault looks like: a file is cut short under its map (as another
//! process might do), and the read of a lost page comes back as an error
//! that `safemmap::fault` recognises, with the offset and the error
//! number; with a `&[u8]` over the map (memmap2), the process would die
//! of SIGBUS.
//!
//! cargo run --example fault

use std::io::{self, Write};

use safemmap::{FaultKind, Mmap};

fn main() -> io::Result<()> {
    let page = safemmap::page_size();
    let mut file = tempfile::tempfile()?;
    file.write_all(&vec![b'x'; 4 * page])?;
    let map = Mmap::map_read_only(&file)?;

    if let Err(err) = file.set_len(page as u64) {
        // Windows cannot cut a file below a view of it.
        println!("the file could not be cut under its map: {err}");
        return Ok(());
    }
    let mut buf = vec![0; 2 * page];
    match map.read_exact_at(0, &mut buf) {
        Ok(()) => println!("read the whole range: the OS kept the pages"),
        Err(err) => match safemmap::fault(&err) {
            Some(fault) => {
                let why = match fault.kind {
                    FaultKind::Unbacked => "has no backing",
                    _ => "is not accessible",
                };
                println!(
                    "fault: the page at offset {} {why} (errno {}); {} bytes were copied",
                    fault.offset, fault.os_error, fault.transferred
                );
                println!("as io::Error: {err}");
            }
            None => return Err(err),
        },
    }
    Ok(())
}
