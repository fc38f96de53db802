//! Random call sequences on a file's map, against a model (the bytes, the
//! position): no safe call panics, whatever its arguments and the map's
//! state, and each returns what the model predicts, or at least fails
//! exactly when the model says the call is out of bounds.

use std::io::{SeekFrom, Write};
use std::ops::Bound;
use std::panic::catch_unwind;

use proptest::prelude::*;
use safemmap::MmapOptions;

#[path = "model/calls.rs"]
mod calls;
use calls::{Op, Search};

/// Offsets, lengths and indexes: mostly near the map, some extreme.
fn number() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..80,
        1 => Just(usize::MAX),
        1 => Just(isize::MAX as usize),
        1 => Just(usize::MAX - 1),
    ]
}

fn step() -> impl Strategy<Value = isize> {
    prop_oneof![
        8 => -5isize..=5,
        1 => Just(isize::MIN),
        1 => Just(isize::MAX),
    ]
}

/// Bytes from a small alphabet: lines, needles that occur, invalid UTF-8.
fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"ab\n\xff"[..]), 0..max)
}

fn bound() -> impl Strategy<Value = Bound<usize>> {
    prop_oneof![
        Just(Bound::Unbounded),
        number().prop_map(Bound::Included),
        number().prop_map(Bound::Excluded),
    ]
}

fn seek_from() -> impl Strategy<Value = SeekFrom> {
    let delta = prop_oneof![8 => -80i64..80, 1 => Just(i64::MIN), 1 => Just(i64::MAX)];
    prop_oneof![
        prop_oneof![0u64..80, Just(u64::MAX)].prop_map(SeekFrom::Start),
        delta.clone().prop_map(SeekFrom::Current),
        delta.prop_map(SeekFrom::End),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let search = prop_oneof![Just(Search::Find), Just(Search::Rfind), Just(Search::Count)];
    let workers = prop::option::of(0usize..4);
    prop_oneof![
        (number(), number()).prop_map(|(at, n)| Op::ReadAt(at, n)),
        (number(), number()).prop_map(|(at, n)| Op::ReadExactAt(at, n)),
        (number(), number()).prop_map(|(at, n)| Op::ViewReadAt(at, n)),
        (number(), bytes(12)).prop_map(|(at, data)| Op::WriteAt(at, data)),
        (number(), bytes(12)).prop_map(|(at, data)| Op::WriteAllAt(at, data)),
        number().prop_map(Op::ByteAt),
        (number(), any::<u8>()).prop_map(|(at, v)| Op::SetByte(at, v)),
        Just(Op::ReadByte),
        any::<u8>().prop_map(Op::WriteByte),
        number().prop_map(Op::Read),
        number().prop_map(Op::ReadExact),
        bytes(12).prop_map(Op::Write),
        seek_from().prop_map(Op::Seek),
        Just(Op::FillBuf),
        number().prop_map(Op::Consume),
        Just(Op::ReadLine),
        Just(Op::ReadUntil),
        Just(Op::LineLen),
        (search, bytes(3), bound(), bound(), workers)
            .prop_map(|(kind, needle, start, end, w)| Op::Search(kind, needle, start, end, w)),
        (number(), step(), number()).prop_map(|(at, step, n)| Op::ReadStrided(at, step, n)),
        (number(), step(), bytes(6)).prop_map(|(at, step, d)| Op::WriteStrided(at, step, d)),
        (number(), number(), number()).prop_map(|(d, s, n)| Op::CopyWithin(d, s, n)),
        number().prop_map(Op::Resize),
        (number(), number()).prop_map(|(at, n)| Op::FlushRange(at, n)),
        (number(), number()).prop_map(|(at, n)| Op::FlushAsyncRange(at, n)),
        Just(Op::RefreshLen),
        (number(), number()).prop_map(|(at, n)| Op::Advise(at, n)),
    ]
}
proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn call_sequences_never_panic_and_agree_with_the_model(
        initial in bytes(60).prop_filter("a file to map", |b| !b.is_empty()),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        calls::run(&initial, &ops).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn options_never_panic(
        file_len in 0usize..3,
        len in prop_oneof![0usize..3, Just(usize::MAX), Just(isize::MAX as usize)],
        offset in prop_oneof![0u64..3, Just(u64::MAX), Just(i64::MAX as u64)],
        granules in 0u64..2,
        access in prop::sample::select(&[safemmap::Access::Default, safemmap::Access::Read,
                                          safemmap::Access::Write, safemmap::Access::Copy][..]),
        anonymous in any::<bool>(),
    ) {
        let granularity = safemmap::allocation_granularity();
        let file_len = file_len * granularity;
        let offset = offset.saturating_add(granules * granularity as u64);
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![1; file_len]).unwrap();
        let options = MmapOptions::new().len(len).offset(offset).access(access);
        let made = catch_unwind(|| match anonymous {
            true => options.map_anon(),
            false => options.map(&file),
        });
        prop_assert!(made.is_ok(), "{:?} panicked", options);
    }
}
