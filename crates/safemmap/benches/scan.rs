//! How find and count scale with the size of the range (64 MiB to 2 GiB)
//! and with the number of workers, over a page-cached text file.

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use safemmap::Mmap;

const SIZES: [usize; 4] = [64 << 20, 256 << 20, 1 << 30, 2 << 30];

fn text_file(len: usize) -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    let line: Vec<u8> = (0..80)
        .map(|i| {
            if i == 79 {
                b'\n'
            } else {
                b"lorem ipsum dolor "[i % 18]
            }
        })
        .collect();
    let block: Vec<u8> = line.iter().copied().cycle().take(1 << 20).collect();
    for _ in 0..len >> 20 {
        file.write_all(&block).unwrap();
    }
    file
}

fn scan(c: &mut Criterion) {
    let file = text_file(*SIZES.last().unwrap());
    let map = Mmap::map(&file).unwrap();
    map.count(b"\n", ..).unwrap(); // page the whole file in
    let mut group = c.benchmark_group("scan");
    group.sample_size(10);
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        for workers in 1..=safemmap::cpu::available_cpu_count().max(2) {
            let id = format!("{}MiB/{workers}w", size >> 20);
            group.bench_function(BenchmarkId::new("find", &id), |b| {
                b.iter(|| {
                    map.scan(..size)
                        .workers(workers)
                        .find(black_box(b"absent needle 16"))
                        .unwrap()
                })
            });
            group.bench_function(BenchmarkId::new("count", &id), |b| {
                b.iter(|| {
                    map.scan(..size)
                        .workers(workers)
                        .count(black_box(b"\n"))
                        .unwrap()
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
