//! Faults in mapped memory come back as errors, and the map keeps working.
#![cfg(unix)]

mod common;

use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::ops::Range;

use safemmap::{refusal, Fault, FaultKind, Mmap, Region};

const PAGE: usize = 4096;
const EIO: i32 = 5;
const EFAULT: i32 = 14;

fn mapped_file(pages: usize) -> (File, Mmap) {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&vec![b'x'; pages * PAGE]).unwrap();
    let map = Mmap::map(&file).unwrap();
    (file, map)
}

fn fault_of(err: std::io::Error) -> Fault {
    match safemmap::fault(&err) {
        Some(fault) => fault,
        None => panic!("expected a fault, got {:?} ({err})", refusal(&err)),
    }
}

#[test]
fn every_access_past_a_truncation_is_an_error() {
    let (file, mut map) = mapped_file(4);
    file.set_len(PAGE as u64).unwrap();
    let unbacked = |offset| Fault {
        kind: FaultKind::Unbacked,
        region: Region::Map,
        offset,
        transferred: 0,
        os_error: EIO,
    };

    assert_eq!(
        fault_of(map.byte_at(3 * PAGE).unwrap_err()),
        unbacked(3 * PAGE)
    );
    assert_eq!(
        fault_of(map.read_at(PAGE - 64, &mut [0; 100]).unwrap_err()),
        Fault {
            transferred: 64,
            ..unbacked(PAGE)
        }
    );
    assert_eq!(
        fault_of(map.to_vec().unwrap_err()),
        Fault {
            transferred: PAGE,
            ..unbacked(PAGE)
        }
    );
    assert!(fault_of(map.find(b"needle", ..).unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.rfind(b"x", ..).unwrap_err()).offset >= PAGE);
    assert_eq!(
        fault_of(map.set_byte(2 * PAGE, 1).unwrap_err()),
        unbacked(2 * PAGE)
    );
    let fault = fault_of(map.write_at(2 * PAGE, b"abc").unwrap_err());
    assert!(
        (2 * PAGE..2 * PAGE + 3).contains(&fault.offset),
        "{fault:?}"
    );
    assert!(fault_of(map.copy_within(0, 2 * PAGE, 10).unwrap_err()).offset >= 2 * PAGE);
    assert!(
        fault_of(
            map.read_strided(4 * PAGE - 1, -(PAGE as isize), &mut [0; 4])
                .unwrap_err()
        )
        .offset
            >= PAGE
    );
    assert!(fault_of(map.write_strided(0, PAGE as isize, b"abcd").unwrap_err()).offset >= PAGE);
    map.seek(SeekFrom::Start(PAGE as u64)).unwrap();
    assert!(fault_of(map.line_len().unwrap_err()).offset >= PAGE);
    // A line that runs into the hole: the fault comes from its long part.
    map.seek(SeekFrom::Start(PAGE as u64 - 1000)).unwrap();
    assert!(fault_of(map.line_len().unwrap_err()).offset >= PAGE);
    map.seek(SeekFrom::Start(PAGE as u64)).unwrap();
    assert!(fault_of(map.read_byte().unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.read(&mut [0; 10]).unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.write_byte(1).unwrap_err()).offset >= PAGE);

    // The first page is still there, and the rest comes back with the file.
    assert_eq!(map.byte_at(PAGE - 1).unwrap(), b'x');
    file.set_len((4 * PAGE) as u64).unwrap();
    assert_eq!(map.byte_at(3 * PAGE).unwrap(), 0);
    map.write_at(2 * PAGE, b"abc").unwrap();
    assert_eq!(map.find(b"abc", ..).unwrap(), Some(2 * PAGE));
}

#[test]
fn large_reads_and_long_lines_past_a_truncation_are_errors() {
    // Lines past their first 512 bytes are searched by the C library's
    // memchr inside the guard; a copy this large takes the same routine
    // as a small one.
    let pages = (17 << 20) / PAGE;
    let (file, map) = mapped_file(pages);
    file.set_len(PAGE as u64).unwrap();
    let mut big = vec![0; 17 << 20];
    assert!(fault_of(map.read_at(0, &mut big).unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.line_len().unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.find(b"\n", ..).unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.rfind(b"x\n", ..).unwrap_err()).offset >= PAGE);
    file.set_len((pages * PAGE) as u64).unwrap();
    assert_eq!(map.read_at(0, &mut big).unwrap(), pages * PAGE);
    assert_eq!(map.line_len().unwrap(), pages * PAGE);
}

#[test]
fn inline_reads_and_writes_past_a_truncation_are_errors() {
    let (file, mut map) = mapped_file(2);
    file.set_len(PAGE as u64).unwrap();
    for len in 1..=16 {
        // Wholly in the lost page, or straddling its start.
        for at in [PAGE, PAGE + 100, PAGE - len / 2] {
            let lost = at.max(PAGE)..at + len;
            let read = fault_of(map.read_exact_at(at, &mut vec![0; len]).unwrap_err());
            assert!(lost.contains(&read.offset), "{len} at {at}: {read:?}");
            assert_eq!((read.kind, read.transferred), (FaultKind::Unbacked, 0));
            let write = fault_of(map.write_all_at(at, &vec![b'y'; len]).unwrap_err());
            assert!(lost.contains(&write.offset), "{len} at {at}: {write:?}");
        }
    }
    assert!(fault_of(map.read_le::<u64>(PAGE + 8).unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.read_be::<u16>(PAGE - 1).unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.read_le::<u128>(PAGE - 8).unwrap_err()).offset >= PAGE);
    assert!(fault_of(map.write_le(2 * PAGE - 4, 1_u32).unwrap_err()).offset >= PAGE);
    let mut values = [0_u64; 3];
    let gathered = map.gather_le(&[0, PAGE + 64, 8], &mut values);
    assert_eq!(fault_of(gathered.unwrap_err()).offset, PAGE + 64);
    assert_eq!(values, [u64::from_ne_bytes([b'x'; 8]), 0, 0]);

    // The page that is left still reads, and the lost one comes back.
    assert_eq!(
        map.read_le::<u64>(0).unwrap(),
        u64::from_ne_bytes([b'x'; 8])
    );
    file.set_len(2 * PAGE as u64).unwrap();
    map.write_le(PAGE + 3, 0x1234_u16).unwrap();
    assert_eq!(map.read_le::<u16>(PAGE + 3).unwrap(), 0x1234);
}

#[test]
fn a_fault_error_says_what_happened() {
    let (file, map) = mapped_file(2);
    file.set_len(0).unwrap();
    let err = map.byte_at(PAGE).unwrap_err();
    assert_eq!(fault_of(map.byte_at(PAGE).unwrap_err()).os_error, EIO);
    assert!(err.to_string().contains("offset 4096"), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn inaccessible_pages_are_an_error_too() {
    let map = safemmap::MmapOptions::new()
        .len(2 * PAGE)
        .prot(0)
        .map_anon()
        .unwrap();
    let fault = fault_of(map.byte_at(PAGE).unwrap_err());
    assert_eq!(
        fault,
        Fault {
            kind: FaultKind::Inaccessible,
            region: Region::Map,
            offset: PAGE,
            transferred: 0,
            os_error: EFAULT,
        }
    );
    assert_eq!(
        fault_of(map.find(b"z", ..).unwrap_err()).kind,
        FaultKind::Inaccessible
    );
}

#[test]
fn threads_fault_independently() {
    let (file, map) = mapped_file(8);
    file.set_len((4 * PAGE) as u64).unwrap();
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let map = &map;
            scope.spawn(move || {
                for round in 0..200 {
                    let offset = (thread + round) % 8 * PAGE;
                    let result = map.read_at(offset, &mut [0; 64]);
                    assert_eq!(result.is_ok(), offset < 4 * PAGE, "offset {offset}");
                }
            });
        }
    });
}

#[test]
fn reads_still_work_after_many_faults() {
    let (file, map) = mapped_file(2);
    file.set_len(PAGE as u64).unwrap();
    for _ in 0..10_000 {
        assert!(map.byte_at(PAGE).is_err());
        assert!(map.read_at(0, &mut [0; 2 * PAGE]).is_err());
    }
    let mut first = vec![0; PAGE];
    assert_eq!(map.read_at(0, &mut first).unwrap(), PAGE);
    assert!(first.iter().all(|&b| b == b'x'));
}

/// Runs this test binary again, running only `test`, with `CHILD` set.
fn run_child(test: &str) -> std::process::ExitStatus {
    common::this_test_binary(&[])
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("SAFEMMAP_FAULT_CHILD", "1")
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
}

fn in_child() -> bool {
    std::env::var_os("SAFEMMAP_FAULT_CHILD").is_some()
}

#[test]
fn a_fault_outside_any_map_still_kills_the_process() {
    if in_child() {
        let (_file, map) = mapped_file(1);
        assert!(map.byte_at(0).is_ok(), "the handler is installed");
        let wild = std::hint::black_box(16usize) as *const u8;
        // SAFETY: none: this reads an unmapped address on purpose, to check
        // that the fault is not swallowed.
        let byte = unsafe { wild.read_volatile() };
        println!("survived a wild read: {byte}");
        return;
    }
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        run_child("a_fault_outside_any_map_still_kills_the_process").signal(),
        Some(11)
    );
}

/// What a search must give when the map's bytes from `kept.len()` on are
/// gone: `Err(())` where the answer needs them.
type Expected = Result<Option<usize>, ()>;

/// A forward search needs the lost bytes only if no match ends before them.
fn first_match(kept: &[u8], needle: &[u8], range: Range<usize>) -> Expected {
    let readable = range.start.min(kept.len())..range.end.min(kept.len());
    let found = kept[readable.clone()]
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|i| readable.start + i);
    match found {
        None if range.end > kept.len() => Err(()),
        found => Ok(found),
    }
}

/// A backward search needs every byte after its match, up to its end.
fn last_match(kept: &[u8], needle: &[u8], range: Range<usize>) -> Expected {
    let found = kept.get(range.clone()).ok_or(())?;
    let found = found.windows(needle.len()).rposition(|w| w == needle);
    Ok(found.map(|i| range.start + i))
}

/// A result compared with an [`Expected`]: its error must be a fault.
fn outcome<T>(result: std::io::Result<T>) -> Result<T, ()> {
    result.map_err(|err| {
        fault_of(err);
    })
}

/// Puts `y\n` at `at` in a map of a file of zeros (clearing `previous`,
/// where the last one was), then cuts the file to `cut`: what is left of
/// the map. Written through the map, which drops the copy it reads lines
/// from.
fn cut_after_line(file: &File, map: &mut Mmap, previous: usize, at: usize, cut: usize) -> Vec<u8> {
    file.set_len(map.len() as u64).unwrap();
    map.write_at(previous, b"\0\0").unwrap();
    map.write_at(at, b"y\n").unwrap();
    file.set_len(cut as u64).unwrap();
    let mut kept = vec![0; cut];
    kept[at..at + 2].copy_from_slice(b"y\n");
    kept
}

#[test]
fn searches_and_lines_that_end_before_a_cut_succeed() {
    // Vector loops read ahead of the byte they test; the answer must not
    // depend on bytes it does not need.
    let len = 4 * PAGE;
    let file = tempfile::tempfile().unwrap();
    file.set_len(len as u64).unwrap();
    let mut map = Mmap::map(&file).unwrap();
    let mut previous = 0;
    for cut in [PAGE, 2 * PAGE, 3 * PAGE] {
        for at in cut - 200..cut - 1 {
            let kept = cut_after_line(&file, &mut map, previous, at, cut);
            previous = at;
            let starts = [
                at,
                at - 1,
                at - 13,
                at - 64,
                at - 600,
                (cut + 7).saturating_sub(2 * PAGE),
            ];
            for start in starts.into_iter().filter(|&start| start <= at) {
                let case = format!("cut {cut}, y at {at}, from {start}");
                for needle in [&b"y\n"[..], b"\n", b"\0y\n"] {
                    for end in [len, cut + 5, cut, at + 2] {
                        let range = start..end;
                        let expected = first_match(&kept, needle, range.clone());
                        let found = outcome(map.find(needle, range.clone()));
                        assert_eq!(found, expected, "find {needle:?} in {range:?}, {case}");
                        for workers in [1, 2] {
                            let scan = map.scan(range.clone()).workers(workers);
                            assert_eq!(outcome(scan.find(needle)), expected, "{workers} {case}");
                        }
                        let expected = last_match(&kept, needle, range.clone());
                        let found = outcome(map.rfind(needle, range.clone()));
                        assert_eq!(found, expected, "rfind {needle:?} in {range:?}, {case}");
                    }
                }
                map.seek(SeekFrom::Start(start as u64)).unwrap();
                let line = at + 2 - start;
                assert_eq!(outcome(map.line_len()), Ok(line), "{case}");
                let mut read = Vec::new();
                assert_eq!(
                    outcome(map.read_until(b'\n', &mut read)),
                    Ok(line),
                    "{case}"
                );
                assert_eq!(read, kept[start..at + 2], "{case}");
            }
        }
    }
}

#[test]
fn parallel_finds_that_end_before_a_cut_near_a_block_border_succeed() {
    const MIB: usize = 1 << 20;
    let len = 16 * MIB;
    let file = tempfile::tempfile().unwrap();
    file.set_len(len as u64).unwrap();
    let mut map = Mmap::map(&file).unwrap();
    let mut previous = 0;
    for cut in [5 * MIB - PAGE, 5 * MIB, 5 * MIB + PAGE] {
        for at in (cut - 200..cut - 1).step_by(17) {
            let kept = cut_after_line(&file, &mut map, previous, at, cut);
            previous = at;
            // The first MiB is searched alone, then blocks of a MiB: the
            // cut falls on a block border, or 100 bytes either side.
            let starts = [cut - 2 * MIB, cut - 2 * MIB - 100, cut - 2 * MIB + 100];
            for start in starts {
                let expected = first_match(&kept, b"y\n", start..len);
                for workers in [1, 2] {
                    let found = outcome(map.scan(start..).workers(workers).find(b"y\n"));
                    assert_eq!(
                        found, expected,
                        "cut {cut}, y at {at}, from {start}, {workers}"
                    );
                }
            }
        }
    }
}

#[test]
fn backward_searches_that_start_after_an_inaccessible_page_succeed() {
    let len = 64 * PAGE;
    let mut map = Mmap::anonymous(len).unwrap();
    let hole = 40 * PAGE..41 * PAGE;
    // SAFETY: the page lies in the map, which nothing reads here; every
    // access to it through the map is fault-safe.
    let protected = unsafe { libc::mprotect(map.as_mut_ptr().add(hole.start).cast(), PAGE, 0) };
    assert_eq!(protected, 0);
    for at in hole.end..hole.end + 200 {
        map.write_at(at, b"y\n").unwrap();
        for start in [0, hole.start - 3, hole.end - 1] {
            for end in [at + 2, at + 600, at + 5000, len] {
                let case = format!("y at {at}, in {start}..{end}");
                let found = outcome(map.rfind(b"y\n", start..end));
                assert_eq!(found, Ok(Some(at)), "{case}");
                let found = outcome(map.scan(start..end).workers(2).rfind(b"y\n"));
                assert_eq!(found, Ok(Some(at)), "{case}");
            }
        }
        map.write_at(at, b"\0\0").unwrap();
    }
}

/// A map of 4 pages of `x` whose file was cut to 2, positioned at 1 page.
fn cut_after_two_pages() -> (File, Mmap) {
    let (file, mut map) = mapped_file(4);
    file.set_len(2 * PAGE as u64).unwrap();
    map.seek(SeekFrom::Start(PAGE as u64)).unwrap();
    (file, map)
}

#[test]
fn a_write_that_faults_part_way_returns_what_it_stored() {
    let (file, mut map) = cut_after_two_pages();
    assert_eq!(map.write(&[b'y'; 2 * PAGE]).unwrap(), PAGE);
    assert_eq!(map.position(), 2 * PAGE);
    let mut stored = vec![0; 2 * PAGE];
    std::os::unix::fs::FileExt::read_exact_at(&file, &mut stored, 0).unwrap();
    assert_eq!(stored, [[b'x'; PAGE], [b'y'; PAGE]].concat());
    // Nothing more can be stored: now the write fails.
    let fault = fault_of(map.write(b"y").unwrap_err());
    assert_eq!((fault.offset, fault.transferred), (2 * PAGE, 0));
    assert_eq!(map.position(), 2 * PAGE);

    // A read likewise, in whole 64-byte blocks from where it began.
    map.seek(SeekFrom::Start(PAGE as u64 + 100)).unwrap();
    let stored = (PAGE - 100) / 64 * 64;
    assert_eq!(map.read(&mut [0; 2 * PAGE]).unwrap(), stored);
    assert_eq!(map.position(), PAGE + 100 + stored);
}

#[test]
fn write_at_and_write_all_count_what_they_stored() {
    let (_file, mut map) = cut_after_two_pages();
    let err = map.write_at(PAGE, &[b'y'; 2 * PAGE]).unwrap_err();
    assert_eq!(refusal(&err).unwrap().transferred(), Some(PAGE));
    assert_eq!(
        fault_of(err),
        Fault {
            kind: FaultKind::Unbacked,
            region: Region::Map,
            offset: 2 * PAGE,
            transferred: PAGE,
            os_error: EIO,
        }
    );
    let err = map.write_all(&[b'z'; 2 * PAGE]).unwrap_err();
    assert_eq!(fault_of(err).transferred, PAGE);
    assert_eq!(map.position(), 2 * PAGE, "past the bytes stored");
    assert_eq!(map.byte_at(2 * PAGE - 1).unwrap(), b'z');
    let err = map.write_all(b"z").unwrap_err();
    assert_eq!(refusal(&err).unwrap().transferred(), Some(0));
    // A copy within the map may run backwards: nothing is known stored.
    let err = map.copy_within(0, PAGE, 2 * PAGE).unwrap_err();
    assert_eq!(fault_of(err).transferred, 0);
}

#[test]
fn a_fault_in_a_lent_buffer_is_counted_from_that_buffer() {
    let (_file, mut map) = mapped_file(4);
    let (_other_file, mut other) = cut_after_two_pages();
    let lent = other.as_mut_ptr().wrapping_add(100);
    let in_lent = |region| Fault {
        kind: FaultKind::Unbacked,
        region,
        offset: 2 * PAGE - 100,
        transferred: (2 * PAGE - 100) / 64 * 64,
        os_error: EIO,
    };
    // SAFETY: the other map lives, and its pages fault at most.
    let err = unsafe { map.write_at_raw(0, lent, 3 * PAGE) }.unwrap_err();
    assert!(
        err.to_string()
            .contains("lent source buffer at offset 8092"),
        "{err}"
    );
    assert_eq!(fault_of(err), in_lent(Region::Source));
    // SAFETY: as above.
    let err = unsafe { map.read_at_raw(0, lent, 3 * PAGE) }.unwrap_err();
    assert_eq!(fault_of(err), in_lent(Region::Destination));

    let mut copy = vec![0; 3 * PAGE];
    // SAFETY: as above; the vector holds the bytes.
    let err = unsafe { safemmap::copy_fault_safe(lent, copy.as_ptr(), 3 * PAGE) }.unwrap_err();
    assert_eq!(fault_of(err), in_lent(Region::Destination));
    // SAFETY: as above.
    let err = unsafe { safemmap::copy_fault_safe(copy.as_mut_ptr(), lent, 3 * PAGE) }.unwrap_err();
    assert_eq!(fault_of(err), in_lent(Region::Source));
}

#[test]
fn a_line_cut_off_after_it_was_measured_is_an_error() {
    // A short line is copied by inline loads, a longer one by the leaf
    // routine; either way the fault is reported and the position stays.
    for len in [10, 100] {
        let (file, mut map) = mapped_file(3);
        map.set_byte(2 * PAGE + len - 1, b'\n').unwrap();
        map.seek(SeekFrom::Start((2 * PAGE) as u64)).unwrap();
        let line = map.next_line().unwrap();
        assert_eq!(line.len(), len);
        file.set_len(PAGE as u64).unwrap();
        let mut copy = vec![0_u8; len];
        // SAFETY: a buffer of `len` bytes, outside the map.
        let err = unsafe { line.copy_to(copy.as_mut_ptr()) }.unwrap_err();
        let fault = fault_of(err);
        assert_eq!((fault.region, fault.offset), (Region::Map, 2 * PAGE));
        assert_eq!(map.stream_position().unwrap(), (2 * PAGE) as u64);
    }
}
