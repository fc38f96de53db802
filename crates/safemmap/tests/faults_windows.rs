//! Windows: faults in a mapped view come back as errors, and the map keeps
//! working. Windows will not shrink a file that has a view, so the faults
//! here come from pages made inaccessible (an access violation); an in-page
//! error takes the same path with another code (wine reports both as
//! access violations).
#![cfg(windows)]

use std::io::Write;

use safemmap::{refusal, Fault, FaultKind, Mmap, Region};
use windows_sys::Win32::System::Memory::{VirtualProtect, PAGE_NOACCESS, PAGE_READWRITE};

const ERROR_NOACCESS: i32 = 998;

fn mapped_file(len: usize) -> (std::fs::File, Mmap) {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&vec![b'x'; len]).unwrap();
    let map = Mmap::map(&file).unwrap();
    (file, map)
}

fn protect(map: &Mmap, offset: usize, len: usize, protection: u32) {
    let mut old = 0;
    // SAFETY: the range lies in the live view; only its protection changes.
    let ok = unsafe { VirtualProtect(map.as_ptr().add(offset).cast(), len, protection, &mut old) };
    assert_ne!(ok, 0, "VirtualProtect failed");
}

fn fault_of(err: std::io::Error) -> Fault {
    match safemmap::fault(&err) {
        Some(fault) => fault,
        None => panic!("expected a fault, got {:?} ({err})", refusal(&err)),
    }
}

#[test]
fn an_inaccessible_page_is_an_error_until_it_is_accessible_again() {
    let page = safemmap::page_size();
    let (_file, mut map) = mapped_file(4 * page);
    protect(&map, 2 * page, page, PAGE_NOACCESS);
    let inaccessible = |offset| Fault {
        kind: FaultKind::Inaccessible,
        region: Region::Map,
        offset,
        transferred: 0,
        os_error: ERROR_NOACCESS,
    };

    assert_eq!(
        fault_of(map.byte_at(2 * page).unwrap_err()),
        inaccessible(2 * page)
    );
    assert_eq!(
        fault_of(map.read_at(2 * page - 8, &mut [0; 64]).unwrap_err()).kind,
        FaultKind::Inaccessible
    );
    assert!(fault_of(map.find(b"needle", ..).unwrap_err()).offset >= 2 * page);
    assert!(fault_of(map.rfind(b"needle", ..).unwrap_err()).offset < 3 * page);
    assert_eq!(
        fault_of(map.set_byte(2 * page + 1, 1).unwrap_err()),
        inaccessible(2 * page + 1)
    );
    assert!(fault_of(map.write_at(2 * page, b"abc").unwrap_err()).offset >= 2 * page);
    assert!(fault_of(map.copy_within(0, 2 * page, 16).unwrap_err()).offset >= 2 * page);
    let mut every_page = [0; 4];
    assert!(
        fault_of(
            map.read_strided(0, page as isize, &mut every_page)
                .unwrap_err()
        )
        .offset
            == 2 * page
    );

    assert_eq!(
        fault_of(map.read_le::<u64>(2 * page + 8).unwrap_err()),
        inaccessible(2 * page + 8)
    );
    assert!(
        fault_of(map.read_exact_at(2 * page - 4, &mut [0; 12]).unwrap_err()).offset >= 2 * page
    );
    assert_eq!(
        fault_of(map.write_le(2 * page + 2, 7_u16).unwrap_err()),
        inaccessible(2 * page + 2)
    );
    assert_eq!(map.byte_at(page).unwrap(), b'x', "other pages still work");
    protect(&map, 2 * page, page, PAGE_READWRITE);
    map.set_byte(2 * page, b'y').unwrap();
    assert_eq!(map.find(b"y", ..).unwrap(), Some(2 * page));
}

#[test]
fn threads_fault_independently() {
    let page = safemmap::page_size();
    let (_file, map) = mapped_file(8 * page);
    protect(&map, 4 * page, 4 * page, PAGE_NOACCESS);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let map = &map;
            scope.spawn(move || {
                for round in 0..200 {
                    let offset = (thread + round) % 8 * page;
                    let result = map.read_at(offset, &mut [0; 64]);
                    assert_eq!(result.is_ok(), offset < 4 * page, "offset {offset}");
                }
            });
        }
    });
}

#[test]
fn a_fault_outside_any_map_is_not_swallowed() {
    if std::env::var_os("SAFEMMAP_FAULT_CHILD").is_some() {
        let (_file, map) = mapped_file(safemmap::page_size());
        assert!(map.byte_at(0).is_ok(), "the handler is installed");
        let wild = std::hint::black_box(16usize) as *const u8;
        // SAFETY: none: this reads an unmapped address on purpose, to check
        // that the fault is not swallowed.
        let byte = unsafe { wild.read_volatile() };
        println!("survived a wild read: {byte}");
        return;
    }
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_fault_outside_any_map_is_not_swallowed",
            "--nocapture",
        ])
        .env("SAFEMMAP_FAULT_CHILD", "1")
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap();
    // The exit status is an NTSTATUS error: STATUS_ACCESS_VIOLATION on
    // Windows; under wine, which may try to start its debugger first,
    // sometimes STATUS_DEBUGGER_INACTIVE.
    let status = child.status.code().unwrap_or(0) as u32;
    assert_eq!(status >> 30, 0b11, "exit status {status:#x}");
    assert!(!String::from_utf8_lossy(&child.stdout).contains("survived"));
}
