//! What fault protection costs: guarded copies and searches through the
//! public API against the same work done unguarded on the same mapping.

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use safemmap::Mmap;

const SIZES: [usize; 10] = [
    1,
    8,
    64,
    256,
    1 << 10,
    2 << 10,
    4 << 10,
    64 << 10,
    1 << 20,
    16 << 20,
];

fn mapped(len: usize) -> (std::fs::File, Mmap) {
    let mut file = tempfile::tempfile().unwrap();
    let text: Vec<u8> = (0..len)
        .map(|i| b"abcdefghijklmnopqrstuvwxyz \n"[i % 28])
        .collect();
    file.write_all(&text).unwrap();
    let map = Mmap::map(&file).unwrap();
    map.to_vec().unwrap(); // fault every page in
    (file, map)
}

fn copy(c: &mut Criterion) {
    let (_file, map) = mapped(16 << 20);
    let mut group = c.benchmark_group("copy");
    for size in SIZES {
        let mut buf = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("guarded", size), &size, |b, _| {
            b.iter(|| map.read_at(black_box(0), &mut buf).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("plain", size), &size, |b, &size| {
            // SAFETY: the map is live and `size` bytes long at least; this
            // is the unguarded copy the guard is measured against.
            b.iter(|| unsafe {
                std::ptr::copy_nonoverlapping(black_box(map.as_ptr()), buf.as_mut_ptr(), size)
            })
        });
    }
    group.finish();
}

fn byte(c: &mut Criterion) {
    let (_file, map) = mapped(1 << 20);
    let mut group = c.benchmark_group("byte");
    group.bench_function("guarded", |b| {
        b.iter(|| map.byte_at(black_box(4321)).unwrap())
    });
    // SAFETY: offset 4321 lies in the live map.
    group.bench_function("plain", |b| {
        b.iter(|| unsafe { black_box(map.as_ptr()).add(4321).read_volatile() })
    });
    group.finish();
}

fn search(c: &mut Criterion) {
    let (_file, map) = mapped(16 << 20);
    let needle: &[u8] = b"zyxwvutsrqponmlk"; // absent: every search scans the range
    let mut group = c.benchmark_group("find");
    for size in [256, 4 << 10, 1 << 20, 16 << 20] {
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("guarded", size), &size, |b, &size| {
            b.iter(|| map.find(black_box(needle), 0..size).unwrap())
        });
        // The same work unguarded: memchr's one-shot search, which also
        // builds its searcher on every call.
        group.bench_with_input(BenchmarkId::new("plain", size), &size, |b, &size| {
            // SAFETY: the map is live, at least `size` bytes long, and
            // nothing writes to it during the benchmark.
            let hay = unsafe { std::slice::from_raw_parts(map.as_ptr(), size) };
            b.iter(|| plain_find(black_box(hay), black_box(needle)))
        });
    }
    group.finish();
}

/// memchr's one-shot search as a call, like the guarded side's: inlined
/// into the benchmark loop, its searcher's construction was compiled
/// together with the loop and ran some 150 fewer instructions per call
/// (callgrind) than the same function called, which no caller of a search
/// API gets; the ratio then measured inlining, not the guard.
#[inline(never)]
fn plain_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

criterion_group!(benches, copy, byte, search);
criterion_main!(benches);
