//! Behaviour of the core crate through its public API.

use std::fs::File;
use std::io::{BufRead, Read, Seek, SeekFrom, Write};

use safemmap::{refusal, Access, Begun, Error, Mmap, MmapOptions};

#[cfg(unix)]
const EINVAL: i32 = 22;
#[cfg(unix)]
const EBADF: i32 = 9;

fn file_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

fn file_bytes(file: &File) -> Vec<u8> {
    let mut file = file.try_clone().unwrap();
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut bytes).unwrap();
    bytes
}

fn refused(result: std::io::Result<impl std::fmt::Debug>) -> Error {
    let err = result.expect_err("expected a refusal");
    refusal(&err).unwrap_or_else(|| panic!("not a refusal: {err}"))
}

#[test]
fn maps_the_whole_file_by_default_and_writes_through() {
    let file = file_with(b"0123456789");
    let mut map = Mmap::map(&file).unwrap();
    assert_eq!(map.len(), 10);
    assert_eq!(map.file_size().unwrap(), 10);
    assert!(!map.is_anonymous() && Mmap::anonymous(10).unwrap().is_anonymous());
    map.write_at(2, b"ab").unwrap();
    map.set_byte(9, b'z').unwrap();
    map.flush().unwrap();
    assert_eq!(file_bytes(&file), b"01ab45678z");
}

#[test]
#[cfg(unix)] // errno values, page-sized offsets, truncating a mapped file
fn validates_length_and_offset_against_the_file() {
    let file = file_with(&[7; 8292]);
    let granularity = safemmap::allocation_granularity() as u64;
    assert_eq!(
        refused(MmapOptions::new().len(8293).map(&file)),
        Error::LengthBeyondFile
    );
    assert_eq!(
        refused(MmapOptions::new().offset(3 * granularity).map(&file)),
        Error::OffsetBeyondFile
    );
    let tail = MmapOptions::new()
        .offset(2 * granularity)
        .map(&file)
        .unwrap();
    assert_eq!(tail.len(), 8292 - 2 * granularity as usize);
    assert_eq!(tail.offset(), 2 * granularity);
    let unaligned = MmapOptions::new()
        .len(10)
        .offset(100)
        .map(&file)
        .unwrap_err();
    assert_eq!(unaligned.raw_os_error(), Some(EINVAL));
}

#[test]
fn access_modes_decide_what_may_change() {
    let file = file_with(b"abcdef");
    let mut read = MmapOptions::new().access(Access::Read).map(&file).unwrap();
    assert_eq!(refused(read.write_at(0, b"x")), Error::ReadOnly);
    assert_eq!(refused(read.resize(3)), Error::ResizeNotAllowed);

    let mut copy = MmapOptions::new().access(Access::Copy).map(&file).unwrap();
    copy.write_at(0, b"XY").unwrap();
    assert_eq!(copy.to_vec().unwrap(), b"XYcdef");
    assert_eq!(
        file_bytes(&file),
        b"abcdef",
        "copy-on-write must not touch the file"
    );
    assert_eq!(refused(copy.resize(3)), Error::ResizeNotAllowed);

    let conflict = MmapOptions::new()
        .access(Access::Read)
        .prot(safemmap::raw::PROT_READ)
        .map(&file);
    assert_eq!(refused(conflict), Error::AccessConflict);
    let derived = MmapOptions::new()
        .prot(safemmap::raw::PROT_READ)
        .map(&file)
        .unwrap();
    assert_eq!(derived.access(), Access::Read);
    assert_eq!(Access::from_raw(3).unwrap(), Access::Copy);
    assert_eq!(refused(Access::from_raw(4)), Error::InvalidAccess);
}

#[test]
fn reads_writes_and_seeks_like_a_file() {
    let mut map = Mmap::anonymous(12).unwrap();
    map.write_all(b"ab\ncd\n\nxyz").unwrap();
    assert_eq!(map.position(), 10);
    assert_eq!(refused(map.write(b"too long")), Error::DataOutOfRange);
    assert_eq!(map.position(), 10, "a refused write changes nothing");
    assert_eq!(map.seek(SeekFrom::Start(0)).unwrap(), 0);
    assert_eq!(map.line_len().unwrap(), 3);
    let lines: Vec<String> = (&mut map).lines().map(Result::unwrap).collect();
    assert_eq!(lines, ["ab", "cd", "", "xyz\0\0"]);
    assert_eq!(map.seek(SeekFrom::End(-2)).unwrap(), 10);
    assert_eq!(map.read_byte().unwrap(), 0);
    assert_eq!(map.seek(SeekFrom::Current(-11)).unwrap(), 0);
    assert_eq!(
        refused(map.seek(SeekFrom::Current(-1))),
        Error::SeekOutOfRange
    );
    assert_eq!(refused(map.seek(SeekFrom::End(1))), Error::SeekOutOfRange);
    map.seek(SeekFrom::End(0)).unwrap();
    assert_eq!(refused(map.read_byte()), Error::ReadByteOutOfRange);
    assert_eq!(refused(map.write_byte(1)), Error::WriteByteOutOfRange);
    let mut rest = Vec::new();
    assert_eq!(map.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn buffered_reads_see_writes_made_in_between() {
    let mut map = Mmap::anonymous(8).unwrap();
    assert_eq!(map.fill_buf().unwrap(), &[0; 8]);
    map.write_at(1, b"x").unwrap();
    assert_eq!(map.fill_buf().unwrap()[1], b'x');
}

#[test]
fn raw_reads_advance_the_position_all_or_nothing() {
    let mut map = Mmap::anonymous(8).unwrap();
    map.write_at(0, b"abcdefgh").unwrap();
    let mut buf = [0u8; 5];
    map.seek(SeekFrom::Start(2)).unwrap();
    // SAFETY: `buf` is writable and not referenced during the calls.
    unsafe {
        map.read_raw(buf.as_mut_ptr(), 5).unwrap();
        assert_eq!((&buf, map.position()), (b"cdefg", 7));
        assert!(
            map.read_raw(buf.as_mut_ptr(), 2).is_err(),
            "only 1 byte is left"
        );
        assert_eq!(map.position(), 7);
        map.resize(4).unwrap(); // the position now lies past the end
        map.read_raw(buf.as_mut_ptr(), 0).unwrap();
        assert!(map.read_raw(buf.as_mut_ptr(), 1).is_err());
    }
    assert_eq!(map.position(), 7);
}

/// rfind searches windows of 1 MiB from the end, each overlapping the next
/// by the needle's length less one: a needle placed at every offset across
/// the first two borders is found, by find and count too.
#[test]
fn rfind_finds_needles_across_its_window_borders() {
    // The last 512 bytes are searched on their own, the rest in 1 MiB windows.
    const NEAR: usize = 512;
    const WINDOW: usize = 1 << 20;
    let needle = b"0123456789abcdef";
    let len = 3 * WINDOW + 123;
    let mut map = Mmap::anonymous(len).unwrap();
    let near = len - NEAR;
    let first_window = near + needle.len() - 1 - WINDOW;
    let borders = [near, first_window, first_window - WINDOW + needle.len() - 1];
    for at in borders
        .iter()
        .flat_map(|&border| border - needle.len()..=border)
    {
        map.write_at(at, needle).unwrap();
        assert_eq!(map.rfind(needle, ..).unwrap(), Some(at));
        assert_eq!(map.find(needle, ..).unwrap(), Some(at));
        assert_eq!(map.count(needle, ..).unwrap(), 1);
        map.write_at(at, &[0; 16]).unwrap();
    }
}

/// find and rfind search their first MiB alone, then the rest in blocks of
/// 1 MiB (counted from the rest's start) that the workers take in turn: a
/// needle placed across those borders (ending at one, crossing it by one
/// byte to all but one, starting at it or after it) is found from both
/// ends, in a range two workers share whose last block is partial.
#[test]
fn finds_needles_across_the_borders_of_its_blocks() {
    const MIB: usize = 1 << 20;
    let needle = b"0123456789abcdef";
    let len = 8 * MIB + 123;
    let mut map = Mmap::anonymous(len).unwrap();
    for border in [MIB, 2 * MIB, 4 * MIB, len - MIB] {
        for at in [16, 15, 8, 1, 0]
            .map(|before| border - before)
            .into_iter()
            .chain([border + 1])
        {
            map.write_at(at, needle).unwrap();
            for workers in [1, 2] {
                let scan = map.scan(..).workers(workers);
                assert_eq!(
                    scan.find(needle).unwrap(),
                    Some(at),
                    "find, {workers} workers"
                );
                assert_eq!(
                    scan.rfind(needle).unwrap(),
                    Some(at),
                    "rfind, {workers} workers"
                );
            }
            map.write_at(at, &[0; 16]).unwrap();
        }
    }
}

/// Long searches first look for the needle's rarest byte ('<' here): a
/// match is found wherever it lies among lone rare bytes and partial
/// needles, also where the rare byte lies too near a range's end for a
/// match to fit, or in the cache line after the match's start, in ranges
/// long enough (64 KiB+) for the skip.
#[test]
fn long_searches_skip_to_the_needles_rare_byte() {
    let needle = b"ab<ab";
    let len = 320 << 10;
    let mut random = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |below: usize| {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        random as usize % below
    };
    let mut bytes: Vec<u8> = (0..len).map(|_| b"ab"[next(2)]).collect();
    for _ in 0..40 {
        let piece: &[u8] = [&needle[..], b"<", b"ab<a", b"<ab", b"b<"][next(5)];
        // Whole needles end a cache line with their rare byte in the next
        // one: a search started at the rare byte's line would miss them.
        let at = match piece == needle {
            true => 64 * (1 + next(len / 64 - 2)) - 1 - next(2),
            false => next(len - piece.len()),
        };
        bytes[at..at + piece.len()].copy_from_slice(piece);
    }
    let map = Mmap::map(&file_with(&bytes)).unwrap();
    let matches: Vec<usize> = (0..=len - needle.len())
        .filter(|&i| &bytes[i..i + needle.len()] == needle)
        .collect();
    let mut ranges = vec![0..len, len - (64 << 10)..len, 0..64 << 10];
    ranges.extend((0..30).map(|_| {
        let start = next(len - (64 << 10));
        start..start + (64 << 10) + next(len - (64 << 10) - start)
    }));
    for range in ranges {
        let inside = || {
            matches
                .iter()
                .copied()
                .filter(|&i| range.start <= i && i + needle.len() <= range.end)
        };
        let scan = map.scan(range.clone()).workers(1);
        assert_eq!(
            scan.find(needle).unwrap(),
            inside().next(),
            "find in {range:?}"
        );
        assert_eq!(
            scan.rfind(needle).unwrap(),
            inside().next_back(),
            "rfind in {range:?}"
        );
    }
}

/// find_near and rfind_near answer for the matches that start in the near
/// part, and hand back the rest of the search otherwise.
#[test]
fn searches_near_the_start_then_the_rest() {
    let mut map = Mmap::anonymous(1000).unwrap();
    map.write_at(100, b"ab").unwrap();
    map.write_at(900, b"ab").unwrap();
    let done = |begun: Begun| match begun {
        Begun::Done(found) => found,
        Begun::Farther(rest) => panic!("expected an answer, got {rest:?}"),
    };
    let scan = map.scan(..);
    assert_eq!(done(scan.find_near(b"ab", 101).unwrap()), Some(100));
    assert_eq!(done(scan.rfind_near(b"ab", 101).unwrap()), Some(900));
    assert_eq!(done(scan.find_near(b"ab", 5000).unwrap()), Some(100));
    assert_eq!(
        done(map.scan(200..800).find_near(b"ab", 600).unwrap()),
        None
    );
    // Nothing starts in the first 100 bytes: the rest begins at byte 100.
    let Begun::Farther(rest) = scan.find_near(b"ab", 100).unwrap() else {
        panic!("the match at 100 lies beyond the near part");
    };
    assert_eq!(rest.find(b"ab").unwrap(), Some(100));
    assert_eq!(rest.rfind(b"ab").unwrap(), Some(900));
    // The last 98 places a match can start at are 901..=998.
    let Begun::Farther(rest) = scan.rfind_near(b"ab", 98).unwrap() else {
        panic!("the match at 900 lies before the near part");
    };
    assert_eq!(rest.rfind(b"ab").unwrap(), Some(900));
    assert_eq!(done(scan.find_near(b"", 10).unwrap()), Some(0));
    assert_eq!(done(scan.rfind_near(b"", 10).unwrap()), Some(1000));
}

#[test]
fn finds_needles_inside_clamped_ranges() {
    let mut map = Mmap::anonymous(12).unwrap();
    map.write_at(0, b"one two ones").unwrap();
    assert_eq!(map.find(b"one", ..).unwrap(), Some(0));
    assert_eq!(map.find(b"one", 1..).unwrap(), Some(8));
    assert_eq!(map.rfind(b"one", ..).unwrap(), Some(8));
    assert_eq!(map.rfind(b"one", ..10).unwrap(), Some(0));
    assert_eq!(
        map.find(b"ones", ..11).unwrap(),
        None,
        "the needle must fit before the end"
    );
    assert_eq!(map.find(b"", 5..).unwrap(), Some(5));
    assert_eq!(map.rfind(b"", 0..5).unwrap(), Some(5));
    assert_eq!(
        map.find(b"", 20..30).unwrap(),
        Some(12),
        "bounds are clamped to the map"
    );
    let (start, end) = (6, 3);
    assert_eq!(
        map.find(b"o", start..end).unwrap(),
        None,
        "an inverted range finds nothing"
    );
}

#[test]
fn strided_access_and_moves() {
    let mut map = Mmap::anonymous(10).unwrap();
    map.write_at(0, b"0123456789").unwrap();
    let mut every_other = [0; 5];
    map.read_strided(0, 2, &mut every_other).unwrap();
    assert_eq!(&every_other, b"02468");
    let mut backwards = [0; 10];
    map.read_strided(9, -1, &mut backwards).unwrap();
    assert_eq!(&backwards, b"9876543210");
    assert_eq!(
        refused(map.read_strided(9, 1, &mut [0; 2])),
        Error::IndexOutOfRange
    );
    map.write_strided(1, 2, b"abcde").unwrap();
    assert_eq!(map.to_vec().unwrap(), b"0a2b4c6d8e");
    map.copy_within(1, 0, 9).unwrap();
    assert_eq!(map.to_vec().unwrap(), b"00a2b4c6d8");
    assert_eq!(refused(map.copy_within(10, 0, 1)), Error::MoveOutOfRange);
    assert_eq!(
        refused(map.copy_within(usize::MAX, 0, 0)),
        Error::MoveOutOfRange
    );
}

#[test]
#[cfg(unix)] // errno values, page-sized offsets, truncating a mapped file
fn resize_sets_the_file_length_to_offset_plus_size() {
    let file = file_with(&[1; 10]);
    let mut map = MmapOptions::new().len(4).map(&file).unwrap();
    map.resize(6).unwrap();
    assert_eq!(map.len(), 6);
    assert_eq!(
        file_bytes(&file),
        [1; 6],
        "growing a prefix map still truncates the file"
    );
    map.resize(9000).unwrap();
    assert_eq!(map.byte_at(8999).unwrap(), 0);
    assert_eq!(map.file_size().unwrap(), 9000);
}

/// Advice for part of a map splits it in the kernel's eyes, and Linux's
/// mremap then refuses to move it (EFAULT: CPython's resize fails there):
/// the resize makes a new mapping instead.
#[test]
#[cfg(unix)] // advice
fn resize_grows_a_map_split_by_advice_on_part_of_it() {
    let page = safemmap::page_size();
    let (_, random) = *safemmap::raw::CONSTANTS
        .iter()
        .find(|(name, _)| *name == "MADV_RANDOM")
        .unwrap();
    let file = file_with(&vec![7; page + 1]);
    let mut map = Mmap::map(&file).unwrap();
    assert_eq!(safemmap::Advice::Random.as_raw() as i64, random);
    map.advise(safemmap::Advice::Random, 0, 1).unwrap();
    map.resize(2 * page + 1).unwrap();
    map.write_at(2 * page, b"!").unwrap();
    assert_eq!(map.len(), 2 * page + 1);
    let bytes = file_bytes(&file);
    assert_eq!(bytes.len(), 2 * page + 1);
    assert!(bytes[..=page].iter().all(|&b| b == 7) && bytes[2 * page] == b'!');
}

#[test]
#[cfg(unix)] // errno values, page-sized offsets, truncating a mapped file
fn resize_refusals_leave_map_and_file_alone() {
    let file = file_with(b"0123456789");
    let mut map = Mmap::map(&file).unwrap();
    assert_eq!(map.resize(0).unwrap_err().raw_os_error(), Some(EINVAL));
    assert_eq!(file_bytes(&file), b"0123456789");
    assert_eq!(refused(map.resize(usize::MAX)), Error::NewSizeOutOfRange);

    let mut untracked = MmapOptions::new().track_fd(false).map(&file).unwrap();
    assert_eq!(refused(untracked.resize(5)), Error::ResizeUntracked);
    assert_eq!(
        untracked.file_size().unwrap_err().raw_os_error(),
        Some(EBADF)
    );

    let mut shared_anon = Mmap::anonymous(4096).unwrap();
    assert_eq!(
        refused(shared_anon.resize(8192)),
        Error::SharedAnonymousGrowth
    );
    shared_anon.resize(100).unwrap();
    assert_eq!(shared_anon.len(), 100);
}

#[test]
fn private_anonymous_maps_grow_and_keep_their_bytes() {
    let flags = safemmap::raw::MAP_PRIVATE;
    let mut map = MmapOptions::new().len(10).flags(flags).map_anon().unwrap();
    map.write_at(0, b"keep me!").unwrap();
    map.resize(3 * safemmap::page_size()).unwrap();
    assert_eq!(&map.to_vec().unwrap()[..8], b"keep me!");
    assert_eq!(map.byte_at(3 * safemmap::page_size() - 1).unwrap(), 0);
}

#[test]
#[cfg(unix)] // errno values, page-sized offsets, truncating a mapped file
fn flush_and_advise_check_their_ranges() {
    let mut map = Mmap::anonymous(10_000).unwrap();
    map.flush_range(0, 0).unwrap();
    map.flush_range(4096, 100).unwrap();
    assert_eq!(
        refused(map.flush_range(4096, 10_000)),
        Error::FlushOutOfRange
    );
    assert_eq!(
        map.flush_range(1, 1).unwrap_err().raw_os_error(),
        Some(EINVAL)
    );
    map.advise_raw(0, 4096, 100_000).unwrap();
    assert_eq!(
        refused(map.advise(safemmap::Advice::Normal, 10_000, 1)),
        Error::AdviseStartOutOfRange
    );
    assert_eq!(
        refused(map.advise(safemmap::Advice::Normal, 0, usize::MAX)),
        Error::AdviseLengthInvalid
    );
    assert_eq!(
        refused(map.advise(safemmap::Advice::Normal, 4096, isize::MAX as usize)),
        Error::AdviseLengthTooLarge
    );
    assert_eq!(
        map.advise(safemmap::Advice::Normal, 1, 1)
            .unwrap_err()
            .raw_os_error(),
        Some(EINVAL)
    );
    map.write_all(b"x").unwrap();
    assert_eq!(map.position(), 1);
}

#[test]
fn maps_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Mmap>();
}

#[test]
fn line_len_finds_a_newline_at_every_offset_and_alignment() {
    // Short lines, and lines around 512 bytes, where the search changes hands.
    let mut map = Mmap::anonymous(1200).unwrap();
    map.write_at(0, &[b'x'; 1200]).unwrap();
    for start in 0..40 {
        for newline in (start..start + 70).chain(start + 480..start + 560) {
            map.set_byte(newline, b'\n').unwrap();
            map.seek(SeekFrom::Start(start as u64)).unwrap();
            assert_eq!(
                map.line_len().unwrap(),
                newline - start + 1,
                "start {start}, newline {newline}"
            );
            map.set_byte(newline, b'x').unwrap();
        }
        map.seek(SeekFrom::Start(start as u64)).unwrap();
        assert_eq!(
            map.line_len().unwrap(),
            1200 - start,
            "no newline after {start}"
        );
    }
}

#[test]
fn next_line_copies_each_line_of_every_length_and_advances() {
    // Lines of 1 to 40 bytes: up to 16 by inline loads, longer by the
    // leaf routine; then a last line without a newline, then the end.
    let mut text = Vec::new();
    for len in 1..=40 {
        text.extend((0..len - 1).map(|i| b'a' + (i % 26) as u8));
        text.push(b'\n');
    }
    text.extend_from_slice(b"tail");
    let mut map = Mmap::anonymous(text.len()).unwrap();
    map.write_at(0, &text).unwrap();
    let mut lines = Vec::new();
    loop {
        let line = map.next_line().unwrap();
        if line.is_empty() {
            break;
        }
        let mut copy = Vec::with_capacity(line.len());
        let len = line.len();
        // SAFETY: the vector's spare capacity holds `len` bytes, outside
        // the map; they are initialised by the copy before `set_len`.
        unsafe {
            line.copy_to(copy.as_mut_ptr()).unwrap();
            copy.set_len(len);
        }
        lines.push(copy);
    }
    let expected: Vec<Vec<u8>> = text
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(lines, expected);
    assert_eq!(map.stream_position().unwrap(), text.len() as u64);
}

#[test]
fn line_len_near_the_end_finds_the_first_newline_in_ranges_of_every_length() {
    // Ranges shorter than the leaf routine's span: the last 16-byte block
    // overlaps those searched before it, ranges under 16 bytes go byte by
    // byte. A second newline at the end must not be taken for the first.
    for len in 1..=70 {
        let mut map = Mmap::anonymous(len).unwrap();
        map.write_at(0, &vec![b'x'; len]).unwrap();
        for start in 0..len {
            map.seek(SeekFrom::Start(start as u64)).unwrap();
            assert_eq!(
                map.line_len().unwrap(),
                len - start,
                "len {len}, start {start}"
            );
        }
        for newline in 0..len {
            map.set_byte(newline, b'\n').unwrap();
            map.set_byte(len - 1, b'\n').unwrap();
            for start in 0..len {
                let end = if start <= newline { newline + 1 } else { len };
                map.seek(SeekFrom::Start(start as u64)).unwrap();
                assert_eq!(
                    map.line_len().unwrap(),
                    end - start,
                    "len {len}, newline {newline}, start {start}"
                );
            }
            map.set_byte(newline, b'x').unwrap();
            map.set_byte(len - 1, b'x').unwrap();
        }
    }
}

/// `len` bytes that differ from their neighbours.
#[cfg(unix)]
fn numbered(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

#[test]
#[cfg(unix)] // truncating a mapped file, unmapping part of a mapping
fn a_two_step_shrink_lets_other_threads_use_the_rest_meanwhile() {
    let page = safemmap::page_size();
    let bytes = numbered(64 * page + 10);
    let file = file_with(&bytes);
    let mut map = Mmap::map(&file).unwrap();
    let mut resize = map.start_resize(page + 5).unwrap();
    assert!(resize.is_pending());
    assert_eq!(map.len(), page + 5, "the map is short at once");
    std::thread::scope(|scope| {
        scope.spawn(|| resize.run());
        assert_eq!(map.to_vec().unwrap(), bytes[..page + 5]);
        assert_eq!(map.rfind(&bytes[page..page + 5], ..).unwrap(), Some(page));
    });
    assert!(!resize.is_pending());
    map.finish_resize(resize).unwrap();
    assert_eq!(map.len(), page + 5);
    assert_eq!(file_bytes(&file), bytes[..page + 5]);
    assert_eq!(refused(map.byte_at(page + 5)), Error::IndexOutOfRange);
}

#[test]
#[cfg(unix)] // ftruncate of a read-only descriptor fails
fn a_shrink_whose_truncation_fails_gives_the_map_its_bytes_back() {
    let page = safemmap::page_size();
    let bytes = numbered(3 * page + 10);
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), &bytes).unwrap();
    let read_only = File::open(path.path()).unwrap();
    let prot = safemmap::raw::PROT_READ | safemmap::raw::PROT_WRITE;
    let options = MmapOptions::new()
        .flags(safemmap::raw::MAP_PRIVATE)
        .prot(prot);
    let mut map = options.map(&read_only).unwrap();
    assert_eq!(
        map.resize(page + 1).unwrap_err().raw_os_error(),
        Some(EINVAL)
    );
    assert_eq!(map.len(), bytes.len());
    assert_eq!(map.to_vec().unwrap(), bytes);

    let resize = map.start_resize(5).unwrap();
    let mut other = Mmap::anonymous(5).unwrap();
    assert!(
        other.finish_resize(resize).is_err(),
        "the failure is reported"
    );
    assert_eq!(other.len(), 5, "but the pages are not another map's");
    assert_eq!(map.len(), 5, "and they are gone from the map");
    assert_eq!(std::fs::read(path.path()).unwrap(), bytes);
}

#[test]
#[cfg(unix)] // truncating a mapped file, unmapping part of a mapping
fn a_resize_left_unfinished_unmaps_what_it_cut_off() {
    let page = safemmap::page_size();
    let file = file_with(&numbered(8 * page));
    let mut map = Mmap::map(&file).unwrap();
    drop(map.start_resize(2 * page).unwrap());
    assert_eq!(map.len(), 2 * page);
    assert_eq!(map.file_size().unwrap(), 8 * page as u64, "never run");
    map.resize(4 * page).unwrap();
    assert_eq!(map.byte_at(2 * page).unwrap(), numbered(3 * page)[2 * page]);

    let mut grow = map.start_resize(6 * page).unwrap();
    assert!(!grow.is_pending(), "growing is done at once");
    grow.run();
    map.finish_resize(grow).unwrap();
    assert_eq!(map.len(), 6 * page);
}

#[test]
#[cfg(unix)] // ftruncate of a read-only descriptor fails
fn a_resize_finished_on_a_map_at_the_same_address_leaves_that_map_alone() {
    let page = safemmap::page_size();
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), numbered(3 * page)).unwrap();
    let read_only = File::open(path.path()).unwrap();
    let options = MmapOptions::new()
        .flags(safemmap::raw::MAP_PRIVATE)
        .prot(safemmap::raw::PROT_READ | safemmap::raw::PROT_WRITE);
    let mut map = options.map(&read_only).unwrap();
    let base = map.as_ptr();
    let resize = map.start_resize(5).unwrap();
    drop(map);
    // A map of the same length, at the address the first one had: Linux
    // hands freed addresses out again, sooner or later (qemu-user may not:
    // then the last map made is the other one).
    let mut kept = Vec::new();
    let mut other = loop {
        let other = Mmap::anonymous(5).unwrap();
        if other.as_ptr() == base || kept.len() == 10_000 {
            break other;
        }
        kept.push(other);
    };
    assert!(other.finish_resize(resize).is_err());
    assert_eq!(other.len(), 5, "the pages cut off are not the other map's");
    other.write_at(0, b"still").unwrap();
}

#[test]
fn read_at_past_the_end_reads_nothing() {
    let map = Mmap::anonymous(10).unwrap();
    let mut buf = [7; 4];
    assert_eq!(map.read_at(11, &mut buf).unwrap(), 0);
    assert_eq!(map.read_at(usize::MAX, &mut buf).unwrap(), 0);
    assert_eq!(map.read_at(10, &mut buf).unwrap(), 0);
    assert_eq!(buf, [7; 4]);
}

/// A file's map at position 6000, shrunk to 100 bytes: the position now
/// lies past the end.
#[cfg(unix)] // truncating a mapped file
fn shrunk_under_the_position() -> Mmap {
    let file = file_with(&numbered(8192));
    let mut map = Mmap::map(&file).unwrap();
    map.seek(SeekFrom::Start(6000)).unwrap();
    map.resize(100).unwrap();
    map
}

#[test]
#[cfg(unix)]
fn read_past_the_end_after_a_shrink_reads_nothing() {
    let mut map = shrunk_under_the_position();
    assert_eq!(map.read(&mut [0; 16]).unwrap(), 0);
    assert_eq!(map.position(), 6000);
}

#[test]
#[cfg(unix)]
fn fill_buf_past_the_end_after_a_shrink_is_empty() {
    let mut map = shrunk_under_the_position();
    assert!(map.fill_buf().unwrap().is_empty());
}

#[test]
#[cfg(unix)]
fn read_line_past_the_end_after_a_shrink_reads_nothing() {
    let mut map = shrunk_under_the_position();
    let mut line = String::new();
    assert_eq!(map.read_line(&mut line).unwrap(), 0);
    assert_eq!(map.read_until(b'\n', &mut Vec::new()).unwrap(), 0);
}

#[test]
#[cfg(unix)]
fn stream_position_past_the_end_after_a_shrink_is_the_position() {
    let mut map = shrunk_under_the_position();
    assert_eq!(map.stream_position().unwrap(), 6000);
}

#[test]
fn consuming_more_than_was_filled_stops_at_the_end() {
    let mut map = Mmap::anonymous(10).unwrap();
    map.seek(SeekFrom::Start(3)).unwrap();
    map.fill_buf().unwrap();
    map.consume(usize::MAX);
    assert_eq!(map.position(), 10);
    assert!(map.fill_buf().unwrap().is_empty());
}

#[test]
fn exact_reads_and_whole_writes_at_offsets_are_all_or_nothing() {
    let mut map = Mmap::anonymous(10).unwrap();
    map.write_all_at(6, b"wxyz").unwrap();
    let mut buf = [0; 4];
    map.read_exact_at(6, &mut buf).unwrap();
    assert_eq!(&buf, b"wxyz");

    let mut buf = [7; 4];
    for offset in [7, 10, 11, usize::MAX] {
        let err = map.read_exact_at(offset, &mut buf).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(refusal(&err), Some(Error::RangePastEnd));
        let err = map.write_all_at(offset, b"abcd").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::UnexpectedEof);
    }
    assert_eq!(buf, [7; 4], "nothing read");
    assert_eq!(
        map.to_vec().unwrap(),
        b"\0\0\0\0\0\0wxyz",
        "nothing written"
    );
    // Nothing to transfer is all there anywhere, as with std's FileExt.
    map.read_exact_at(usize::MAX, &mut []).unwrap();
    map.write_all_at(usize::MAX, b"").unwrap();

    let mut read_only = MmapOptions::new()
        .len(10)
        .access(Access::Read)
        .map_anon()
        .unwrap();
    assert_eq!(refused(read_only.write_all_at(0, b"a")), Error::ReadOnly);
}

#[test]
fn an_empty_file_maps_to_an_empty_map_that_can_grow() {
    let file = file_with(b"");
    let mut map = Mmap::map(&file).unwrap();
    assert!(map.is_empty() && !map.is_anonymous());
    assert_eq!(map.to_vec().unwrap(), b"");
    assert_eq!(map.find(b"", ..).unwrap(), Some(0));
    assert_eq!(map.count(b"a", ..).unwrap(), 0);
    assert_eq!(map.read(&mut [0; 4]).unwrap(), 0);
    assert_eq!(refused(map.byte_at(0)), Error::IndexOutOfRange);
    map.flush().unwrap();
    map.resize(5).unwrap();
    map.write_at(0, b"grown").unwrap();
    map.flush().unwrap();
    assert_eq!(file_bytes(&file), b"grown");
    assert_eq!(Mmap::map_read_only(&file_with(b"")).unwrap().len(), 0);
    // A length is still checked against the file; an anonymous map needs one.
    assert_eq!(
        refused(MmapOptions::new().len(1).map(&file_with(b""))),
        Error::LengthBeyondFile
    );
    assert!(Mmap::anonymous(0).is_err());
}

#[test]
#[cfg(unix)] // a file opened read-only, EACCES
fn a_file_open_for_reading_maps_read_only_and_read_write_says_what_to_use() {
    let path = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::write(&path, b"read me").unwrap();
    let file = File::open(&path).unwrap();
    let mut map = Mmap::map_read_only(&file).unwrap();
    assert_eq!(map.access(), Access::Read);
    assert_eq!(map.to_vec().unwrap(), b"read me");
    assert_eq!(refused(map.write_at(0, b"w")), Error::ReadOnly);

    let err = Mmap::map(&file).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    let refusal = refusal(&err).unwrap();
    assert_eq!(refusal, Error::FileNotWritable { os_error: 13 });
    assert_eq!(refusal.os_error(), Some(13)); // EACCES
    let text = err.to_string();
    assert!(
        text.starts_with("Permission denied (os error 13): "),
        "{text}"
    );
    assert!(
        text.contains("read-write") && text.contains("Mmap::map_read_only"),
        "{text}"
    );
    // Copy-on-write needs no write access to the file.
    let mut copy = MmapOptions::new().access(Access::Copy).map(&file).unwrap();
    copy.write_at(0, b"R").unwrap();
}

#[test]
fn a_map_without_its_descriptor_works_but_cannot_size_or_resize() {
    // On every platform, Windows included (CPython 3.15's trackfd there).
    let file = file_with(b"0123456789");
    let mut untracked = MmapOptions::new().track_fd(false).map(&file).unwrap();
    drop(file);
    assert!(!untracked.tracks_file());
    assert!(untracked.file_size().is_err());
    assert_eq!(refused(untracked.resize(5)), Error::ResizeUntracked);
    untracked.write_at(0, b"ab").unwrap();
    assert_eq!(untracked.to_vec().unwrap(), b"ab23456789");
    assert!(Mmap::anonymous(10).unwrap().tracks_file());
}

#[test]
#[cfg(unix)] // msync flags
fn flush_passes_its_flags_to_the_kernel() {
    let file = file_with(b"0123456789");
    let mut map = Mmap::map(&file).unwrap();
    map.write_at(0, b"ab").unwrap();
    map.flush_range_with(0, 10, libc::MS_ASYNC).unwrap();
    map.flush_range_with(0, 10, libc::MS_INVALIDATE).unwrap();
    let both = libc::MS_SYNC | libc::MS_ASYNC;
    assert_eq!(
        map.flush_range_with(0, 10, both)
            .unwrap_err()
            .raw_os_error(),
        Some(EINVAL)
    );
    assert_eq!(
        refused(map.flush_range_with(5, 6, 0)),
        Error::FlushOutOfRange
    );
    map.flush_range_with(0, 10, 0).unwrap();
    assert_eq!(file_bytes(&file), b"ab23456789");
}

#[test]
fn set_name_names_anonymous_maps_only() {
    let file = file_with(b"0123456789");
    let map = Mmap::map(&file).unwrap();
    assert_eq!(refused(map.set_name("file")), Error::NameOfFileMap);
    let anonymous = Mmap::anonymous(10).unwrap();
    assert_eq!(refused(anonymous.set_name("a\0b")), Error::NameWithNul);
    assert_eq!(
        refused(anonymous.set_name(&"x".repeat(80))),
        Error::NameTooLong
    );
    let name = "safemmap-test:".to_owned() + &"x".repeat(79 - 14);
    match anonymous.set_name(&name) {
        // Linux 5.17+ with CONFIG_ANON_VMA_NAME: the kernel shows it.
        Ok(()) => {
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            assert!(maps.contains(&name), "{name} not in {maps}");
        }
        // A kernel without the feature; a system without any.
        Err(err) => assert!(
            cfg!(unix) && err.raw_os_error() == Some(22)
                || err.kind() == std::io::ErrorKind::Unsupported,
            "{err}"
        ),
    }
}
