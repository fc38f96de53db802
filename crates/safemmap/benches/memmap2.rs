//! safemmap against memmap2 on what a memmap2 user writes first: `wc -l`,
//! `grep -n`, random reads of a field of fixed-size records (a page-cached
//! file and a small one in the CPU cache), the sum of a field over every
//! record, and creating and sorting records. Each task is written the
//! obvious way with each crate (memmap2 with memchr and bytemuck over the
//! slice; safemmap with its own calls), and both run in the same group, one
//! after the other, over the same file.
//!
//! `SAFEMMAP_BENCH_MB` sets the size of the large files (256 by default);
//! CI runs it small, once: `SAFEMMAP_BENCH_MB=2 cargo bench --bench memmap2
//! -- --test`. With `SAFEMMAP_BENCH_ROUNDS=N` it skips criterion and runs
//! each group's variants in turn, N rounds, printing the best time of each
//! and its ratio to memmap2's: on a machine shared with other work, the
//! ratios that move least (BENCHMARKS.md's).

use std::io::Write;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use memchr::memmem;

/// The size of a record, its sort key (bytes 0..8) and the summed field
/// (bytes 8..16), both little-endian.
const RECORD: usize = 32;
const FIELD: usize = 8;
/// Random field reads per iteration.
const READS: usize = 1 << 20;
/// The small file, which stays in the CPU cache.
const SMALL: usize = 64 << 10;
/// What safemmap copies out at a time to create records.
const BLOCK: usize = 128 << 10;
/// What safemmap copies out at a time to read every record: small enough
/// to stay in the L1 cache while it is read (128 KiB ran 1.5-2x slower).
const PASS_BLOCK: usize = 4 << 10;
/// Offsets per `gather_le` call.
const GATHERED: usize = 256;
const NEEDLE: &[u8] = b"needle";

fn large_len() -> usize {
    let mb: usize = std::env::var("SAFEMMAP_BENCH_MB")
        .ok()
        .and_then(|mb| mb.parse().ok())
        .unwrap_or(256);
    mb.max(1) << 20
}

/// A deterministic stream of pseudo-random numbers (xorshift64*).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn file_of(bytes: &[u8]) -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

/// Lines of 20 to 120 bytes; one in about 1000 holds [`NEEDLE`].
fn text(len: usize) -> Vec<u8> {
    let mut random = Random(7);
    let mut text = Vec::with_capacity(len + 128);
    while text.len() < len {
        let n = random.next();
        let words = 20 + (n % 100) as usize;
        text.extend(b"lorem ipsum dolor sit amet ".iter().cycle().take(words));
        if n >> 32 & 1023 == 0 {
            text.extend_from_slice(NEEDLE);
        }
        text.push(b'\n');
    }
    text.truncate(len);
    text
}

fn records(len: usize) -> Vec<u8> {
    let mut random = Random(11);
    (0..len / 8)
        .flat_map(|_| random.next().to_le_bytes())
        .collect()
}

fn field_offsets(len: usize) -> Vec<usize> {
    let mut random = Random(13);
    let count = (len / RECORD) as u64;
    (0..READS)
        .map(|_| (random.next() % count) as usize * RECORD + FIELD)
        .collect()
}

fn field(record: &[u8]) -> u64 {
    u64::from_le_bytes(record[FIELD..FIELD + 8].try_into().unwrap())
}

fn key(record: &[u8; RECORD]) -> u64 {
    u64::from_le_bytes(record[..8].try_into().unwrap())
}

/// Both maps of `file`, read-only: memmap2's and safemmap's.
fn maps(file: &std::fs::File) -> (memmap2::Mmap, safemmap::Mmap) {
    // SAFETY: the benchmark's own temporary file, which nothing changes.
    let theirs = unsafe { memmap2::Mmap::map(file) }.unwrap();
    let ours = safemmap::Mmap::map_read_only(file).unwrap();
    (theirs, ours)
}

/// One way of doing a group's task: its name, and how long `runs` runs of
/// it take.
type Variant<'a> = (&'a str, Box<dyn FnMut(u64) -> Duration + 'a>);

/// A variant timed whole.
fn timed<'a, T>(name: &'a str, mut work: impl FnMut() -> T + 'a) -> Variant<'a> {
    let run = move |runs| {
        let start = Instant::now();
        for _ in 0..runs {
            black_box(work());
        }
        start.elapsed()
    };
    (name, Box::new(run))
}

/// A variant whose runs each start with an untimed `setup` of `state`.
fn timed_after<'a, T>(
    name: &'a str,
    state: &'a mut T,
    setup: impl Fn(&mut T) + 'a,
    work: impl Fn(&mut T) + 'a,
) -> Variant<'a> {
    let run = move |runs| {
        let mut total = Duration::ZERO;
        for _ in 0..runs {
            setup(state);
            let start = Instant::now();
            work(state);
            total += start.elapsed();
        }
        total
    };
    (name, Box::new(run))
}

fn interleaved_rounds() -> Option<u32> {
    std::env::var("SAFEMMAP_BENCH_ROUNDS").ok()?.parse().ok()
}

/// Runs the variants of a group (memmap2's first) as criterion benchmarks,
/// or in turn for `SAFEMMAP_BENCH_ROUNDS` rounds.
fn compare(c: &mut Criterion, name: &str, samples: usize, mut variants: Vec<Variant<'_>>) {
    if let Some(rounds) = interleaved_rounds() {
        let mut best = vec![Duration::MAX; variants.len()];
        for _ in 0..rounds {
            for ((_, run), best) in variants.iter_mut().zip(&mut best) {
                *best = (*best).min(run(1));
            }
        }
        for ((variant, _), time) in variants.iter().zip(&best) {
            let ratio = time.as_secs_f64() / best[0].as_secs_f64();
            println!("{name:<26} {variant:<24} {time:>12.3?} {ratio:>6.2}");
        }
        return;
    }
    let mut group = c.benchmark_group(name);
    group.sample_size(samples);
    for (variant, run) in &mut variants {
        group.bench_function(*variant, |b| b.iter_custom(&mut *run));
    }
    group.finish();
}

fn lines(c: &mut Criterion) {
    let file = file_of(&text(large_len()));
    let (theirs, ours) = maps(&file);
    let their_count = || memchr::memchr_iter(b'\n', &theirs).count();
    let our_count = || ours.count(b"\n", ..).unwrap();
    assert_eq!(their_count(), our_count());
    compare(
        c,
        "wc-l",
        10,
        vec![timed("memmap2", their_count), timed("safemmap", our_count)],
    );
    // The sum of the line numbers of the matches: lines counted between
    // matches.
    let their_grep = || {
        let (mut line, mut counted, mut sum) = (1, 0, 0);
        for found in memmem::find_iter(&theirs, NEEDLE) {
            line += memchr::memchr_iter(b'\n', &theirs[counted..found]).count();
            counted = found + NEEDLE.len();
            sum += line;
        }
        sum
    };
    let our_grep = || {
        let (mut line, mut counted, mut sum) = (1, 0, 0);
        while let Some(found) = ours.find(NEEDLE, counted..).unwrap() {
            line += ours.count(b"\n", counted..found).unwrap();
            counted = found + NEEDLE.len();
            sum += line;
        }
        sum
    };
    assert_eq!(their_grep(), our_grep());
    compare(
        c,
        "grep-n",
        10,
        vec![timed("memmap2", their_grep), timed("safemmap", our_grep)],
    );
}

fn random_reads(c: &mut Criterion, name: &str, len: usize) {
    let file = file_of(&records(len));
    let (theirs, ours) = maps(&file);
    let offsets = field_offsets(len);
    let their_sum = || {
        offsets.iter().fold(0_u64, |sum, &at| {
            let bytes = theirs[at..at + 8].try_into().unwrap();
            sum.wrapping_add(u64::from_le_bytes(bytes))
        })
    };
    let read_le = || {
        offsets.iter().fold(0_u64, |sum, &at| {
            sum.wrapping_add(ours.read_le::<u64>(at).unwrap())
        })
    };
    let read_exact_at = || {
        offsets.iter().fold(0_u64, |sum, &at| {
            let mut bytes = [0; 8];
            ours.read_exact_at(at, &mut bytes).unwrap();
            sum.wrapping_add(u64::from_le_bytes(bytes))
        })
    };
    // Lookups in batches, as a join or an index probe makes them.
    let gather_le = || {
        let mut values = [0_u64; GATHERED];
        offsets.chunks(GATHERED).fold(0_u64, |sum, batch| {
            let values = &mut values[..batch.len()];
            ours.gather_le(batch, values).unwrap();
            values.iter().fold(sum, |sum, &v| sum.wrapping_add(v))
        })
    };
    let expected = their_sum();
    assert_eq!([read_le(), read_exact_at(), gather_le()], [expected; 3]);
    compare(
        c,
        name,
        100,
        vec![
            timed("memmap2", their_sum),
            timed("safemmap-read_le", read_le),
            timed("safemmap-read_exact_at", read_exact_at),
            timed("safemmap-gather_le", gather_le),
        ],
    );
}

fn reads(c: &mut Criterion) {
    random_reads(c, "random-field/page-cached", large_len());
    random_reads(c, "random-field/in-cache", SMALL);
}

fn sum(c: &mut Criterion) {
    let file = file_of(&records(large_len()));
    let (theirs, ours) = maps(&file);
    let their_sum = || {
        theirs
            .chunks_exact(RECORD)
            .fold(0_u64, |sum, record| sum.wrapping_add(field(record)))
    };
    let our_sum = || {
        let mut chunks = ours.chunks(PASS_BLOCK);
        let mut sum = 0_u64;
        while let Some((_, chunk)) = chunks.next_chunk().unwrap() {
            sum = chunk
                .chunks_exact(RECORD)
                .fold(sum, |sum, record| sum.wrapping_add(field(record)));
        }
        sum
    };
    // No copy: one inlined guarded load per record.
    let read_le = || {
        (FIELD..ours.len()).step_by(RECORD).fold(0_u64, |sum, at| {
            sum.wrapping_add(ours.read_le::<u64>(at).unwrap())
        })
    };
    let expected = their_sum();
    assert_eq!([our_sum(), read_le()], [expected; 2]);
    compare(
        c,
        "sum-field",
        10,
        vec![
            timed("memmap2", their_sum),
            timed("safemmap-chunks", our_sum),
            timed("safemmap-read_le", read_le),
        ],
    );
}

/// Record `index` as the create task makes it.
fn make(index: usize, record: &mut [u8]) {
    record[..8].copy_from_slice(&(index as u64).wrapping_mul(0x9E37_79B9).to_le_bytes());
    record[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    record[16..].fill(b' ');
}

fn create_and_sort(c: &mut Criterion) {
    let len = large_len();
    let unsorted = records(len);
    // A file each: memmap2's mutable slice must be the only access to its
    // file.
    let (their_file, our_file) = (file_of(&unsorted), file_of(&unsorted));
    // SAFETY: the benchmark's own temporary file, which only this map
    // reaches.
    let mut theirs = unsafe { memmap2::MmapMut::map_mut(&their_file) }.unwrap();
    let mut ours = safemmap::Mmap::map(&our_file).unwrap();

    // Every record made in place (memmap2) or in a block written out
    // whole (safemmap).
    let their_create = |map: &mut memmap2::MmapMut| {
        for (index, record) in map.chunks_exact_mut(RECORD).enumerate() {
            make(index, record);
        }
    };
    let our_create = |map: &mut safemmap::Mmap| {
        let mut block = vec![0; BLOCK];
        for start in (0..len).step_by(BLOCK) {
            let part = &mut block[..BLOCK.min(len - start)];
            for (i, record) in part.chunks_exact_mut(RECORD).enumerate() {
                make(start / RECORD + i, record);
            }
            map.write_all_at(start, part).unwrap();
        }
    };
    compare(
        c,
        "create",
        10,
        vec![
            timed_after("memmap2", &mut theirs, |_| {}, their_create),
            timed_after("safemmap", &mut ours, |_| {}, our_create),
        ],
    );
    assert_eq!(theirs[..], ours.to_vec().unwrap(), "both made alike");

    // Sorted by key: in place (memmap2), or copied out, sorted and copied
    // back (safemmap). Each run starts from the unsorted records.
    compare(
        c,
        "sort",
        10,
        vec![
            timed_after(
                "memmap2",
                &mut theirs,
                |map| map.copy_from_slice(&unsorted),
                |map| {
                    let records: &mut [[u8; RECORD]] = bytemuck::cast_slice_mut(&mut map[..]);
                    records.sort_unstable_by_key(key);
                },
            ),
            timed_after(
                "safemmap",
                &mut ours,
                |map| map.write_all_at(0, &unsorted).unwrap(),
                |map| {
                    let mut bytes = map.to_vec().unwrap();
                    let records: &mut [[u8; RECORD]] = bytemuck::cast_slice_mut(&mut bytes);
                    records.sort_unstable_by_key(key);
                    map.write_all_at(0, &bytes).unwrap();
                },
            ),
        ],
    );
    assert_eq!(theirs[..], ours.to_vec().unwrap(), "both sorted alike");
}

criterion_group!(benches, lines, reads, sum, create_and_sort);
criterion_main!(benches);
