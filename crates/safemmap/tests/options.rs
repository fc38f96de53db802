//! What a `memmap2` user reaches for beyond reads and writes: populating,
//! typed advice, asynchronous flushes, locking, huge pages, and following
//! a file whose length someone else changes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};

use safemmap::{refusal, Access, Advice, Error, Mmap, MmapOptions};

fn file_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

#[test]
fn a_populated_map_reads_the_file() {
    let bytes: Vec<u8> = (0..3 * safemmap::page_size()).map(|i| i as u8).collect();
    let file = file_with(&bytes);
    let map = MmapOptions::new()
        .populate(true)
        .access(Access::Read)
        .map(&file)
        .unwrap();
    assert_eq!(map.to_vec().unwrap(), bytes);
    let anonymous = MmapOptions::new()
        .len(safemmap::page_size())
        .populate(true)
        .map_anon()
        .unwrap();
    assert_eq!(anonymous.count(b"\0", ..).unwrap(), safemmap::page_size());
}

#[test]
fn an_asynchronous_flush_checks_its_range_and_writes_back() {
    let file = file_with(&[0; 100]);
    let mut map = Mmap::map(&file).unwrap();
    map.write_at(10, b"flushed").unwrap();
    map.flush_async().unwrap();
    map.flush_async_range(0, 100).unwrap();
    assert_eq!(
        refusal(&map.flush_async_range(50, 51).unwrap_err()),
        Some(Error::FlushOutOfRange)
    );
    map.flush().unwrap();
    let mut read_back = [0; 7];
    (&file).seek(SeekFrom::Start(10)).unwrap();
    (&file).read_exact(&mut read_back).unwrap();
    assert_eq!(&read_back, b"flushed");
}

#[test]
fn a_locked_map_works_and_unlocks() {
    let mut map = Mmap::anonymous(2 * safemmap::page_size()).unwrap();
    map.lock().unwrap();
    map.write_at(1, b"locked").unwrap();
    assert_eq!(map.find(b"locked", ..).unwrap(), Some(1));
    map.unlock().unwrap();
    // An empty file's map has no pages to lock.
    let empty = Mmap::map(&file_with(b"")).unwrap();
    empty.lock().unwrap();
    empty.unlock().unwrap();
}

#[test]
#[cfg(unix)]
fn typed_advice_is_the_raw_value() {
    let map = Mmap::anonymous(4 * safemmap::page_size()).unwrap();
    for advice in [
        Advice::Normal,
        Advice::Random,
        Advice::Sequential,
        Advice::WillNeed,
        Advice::DontNeed,
    ] {
        map.advise(advice, 0, map.len()).unwrap();
        map.advise_raw(advice.as_raw(), 0, map.len()).unwrap();
    }
    let named = |name: &str| {
        let (_, value) = safemmap::raw::CONSTANTS
            .iter()
            .find(|(constant, _)| *constant == name)
            .unwrap();
        *value as i32
    };
    assert_eq!(Advice::Sequential.as_raw(), named("MADV_SEQUENTIAL"));
    assert_eq!(Advice::DontNeed.as_raw(), named("MADV_DONTNEED"));
}

#[test]
#[cfg(windows)]
fn windows_takes_no_advice() {
    let map = Mmap::anonymous(safemmap::page_size()).unwrap();
    let err = map.advise(Advice::WillNeed, 0, map.len()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn linux_advice_leaves_a_shared_anonymous_map_its_bytes() {
    let mut map = Mmap::anonymous(safemmap::page_size()).unwrap();
    map.write_at(0, b"gone").unwrap();
    // A shared anonymous map keeps its pages in shared memory: DontNeed
    // only drops this process's view of them.
    map.advise(Advice::DontNeed, 0, map.len()).unwrap();
    assert_eq!(map.find(b"gone", ..).unwrap(), Some(0));
    map.advise(Advice::PopulateRead, 0, map.len()).unwrap();
    map.advise(Advice::Cold, 0, map.len()).unwrap();
}

#[test]
#[cfg(any(target_os = "linux", target_os = "android"))]
fn huge_pages_come_whole_or_not_at_all() {
    let huge = huge_page_size();
    let refused = MmapOptions::new()
        .len(huge + 1)
        .huge_pages(true)
        .map_anon()
        .unwrap_err();
    assert_eq!(
        refusal(&refused),
        Some(Error::HugePagesLength { page_size: huge })
    );
    let options = MmapOptions::new()
        .len(huge)
        .flags(safemmap::raw::MAP_PRIVATE)
        .huge_pages(true);
    match options.map_anon() {
        Ok(mut map) => {
            map.write_at(huge - 4, b"last").unwrap();
            assert_eq!(map.rfind(b"last", ..).unwrap(), Some(huge - 4));
            assert_eq!(
                refusal(&map.resize(2 * huge).unwrap_err()),
                Some(Error::HugePagesResize)
            );
        }
        // The OS's refusal: ENOMEM if no huge pages are set aside
        // (/proc/sys/vm/nr_hugepages is 0), EINVAL without hugetlb support
        // (as under qemu-user).
        Err(err) => assert!(matches!(err.raw_os_error(), Some(12 | 22)), "{err}"),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn huge_page_size() -> usize {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = meminfo
        .lines()
        .find(|line| line.starts_with("Hugepagesize:"))
        .unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn huge_pages_are_unsupported_elsewhere() {
    let err = MmapOptions::new()
        .len(1 << 21)
        .huge_pages(true)
        .map_anon()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
}

#[test]
fn refresh_len_follows_a_file_that_grows_without_changing_it() {
    let mut log = file_with(b"one\n");
    let mut map = Mmap::map_read_only(&log).unwrap();
    log.write_all(b"two\nthree\n").unwrap();
    assert_eq!(map.len(), 4);
    assert_eq!(map.refresh_len().unwrap(), 14);
    assert_eq!(map.to_vec().unwrap(), b"one\ntwo\nthree\n");
    assert_eq!(map.refresh_len().unwrap(), 14, "nothing changed");
    assert_eq!(log.metadata().unwrap().len(), 14, "the file is left alone");
}

#[test]
#[cfg(unix)] // Windows cannot cut a file below a view of it
fn refresh_len_follows_a_file_cut_short_down_to_nothing() {
    let mut log = file_with(b"one\ntwo\nthree\n");
    let mut map = Mmap::map_read_only(&log).unwrap();

    log.set_len(8).unwrap();
    assert_eq!(map.refresh_len().unwrap(), 8);
    assert_eq!(map.to_vec().unwrap(), b"one\ntwo\n");
    assert_eq!(log.metadata().unwrap().len(), 8, "the file is left alone");

    log.set_len(0).unwrap();
    assert_eq!(map.refresh_len().unwrap(), 0);
    assert!(map.is_empty());
    log.write_all(b"again").unwrap(); // at the file's old position, 14
    assert_eq!(map.refresh_len().unwrap(), 19);
    assert_eq!(map.read_at(14, &mut [0; 5]).unwrap(), 5);
}

#[test]
fn refresh_len_keeps_a_copy_on_write_maps_changes_and_counts_from_its_offset() {
    let granule = safemmap::allocation_granularity();
    let mut file = file_with(&vec![b'.'; 2 * granule]);
    let mut map = MmapOptions::new()
        .access(Access::Copy)
        .offset(granule as u64)
        .map(&file)
        .unwrap();
    map.write_at(0, b"private").unwrap();
    file.write_all(b"more").unwrap();
    assert_eq!(map.refresh_len().unwrap(), granule + 4);
    assert_eq!(map.find(b"private", ..).unwrap(), Some(0));
    assert_eq!(map.find(b"more", ..).unwrap(), Some(granule));
}

#[test]
fn refresh_len_needs_a_file() {
    let mut anonymous = Mmap::anonymous(10).unwrap();
    assert!(anonymous.refresh_len().is_err());
    let file = file_with(b"untracked");
    let mut untracked = MmapOptions::new().track_fd(false).map(&file).unwrap();
    assert!(untracked.refresh_len().is_err());
    assert_eq!(untracked.len(), 9);
}
