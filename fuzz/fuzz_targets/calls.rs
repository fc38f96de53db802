//! Random call sequences on a file's map against a model of it: the calls
//! and the model are the property test's (`tests/model/calls.rs`); only
//! how they are drawn from the fuzzer's bytes is here. A panic or a
//! disagreement with the model stops the fuzzer.
#![no_main]

use std::io::SeekFrom;
use std::ops::Bound;

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[path = "../../crates/safemmap/tests/model/calls.rs"]
mod calls;
use calls::{Op, Search};

/// A file's first contents (never empty: the model test maps a file) and
/// the calls to make on its map.
#[derive(Debug)]
struct Input {
    initial: Vec<u8>,
    ops: Vec<Op>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let mut initial = bytes(u, 60)?;
        if initial.is_empty() {
            initial.push(b'a');
        }
        let ops = u.arbitrary_iter::<OpOf>()?.map(|op| op.map(|op| op.0));
        Ok(Input {
            initial,
            ops: ops.take(40).collect::<Result<_>>()?,
        })
    }
}

/// One call, drawn as the property test draws it: offsets mostly near the
/// map, some extreme; bytes from an alphabet of lines and invalid UTF-8.
struct OpOf(Op);

impl<'a> Arbitrary<'a> for OpOf {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(OpOf(match u.int_in_range(0..=26u8)? {
            0 => Op::ReadAt(number(u)?, number(u)?),
            1 => Op::ReadExactAt(number(u)?, number(u)?),
            2 => Op::ViewReadAt(number(u)?, number(u)?),
            3 => Op::WriteAt(number(u)?, bytes(u, 12)?),
            4 => Op::WriteAllAt(number(u)?, bytes(u, 12)?),
            5 => Op::ByteAt(number(u)?),
            6 => Op::SetByte(number(u)?, u.arbitrary()?),
            7 => Op::ReadByte,
            8 => Op::WriteByte(u.arbitrary()?),
            9 => Op::Read(number(u)?),
            10 => Op::ReadExact(number(u)?),
            11 => Op::Write(bytes(u, 12)?),
            12 => Op::Seek(seek_from(u)?),
            13 => Op::FillBuf,
            14 => Op::Consume(number(u)?),
            15 => Op::ReadLine,
            16 => Op::ReadUntil,
            17 => Op::LineLen,
            18 => {
                let kind = *u.choose(&[Search::Find, Search::Rfind, Search::Count])?;
                let workers = u.arbitrary::<Option<u8>>()?.map(|w| usize::from(w % 4));
                Op::Search(kind, bytes(u, 3)?, bound(u)?, bound(u)?, workers)
            }
            19 => Op::ReadStrided(number(u)?, step(u)?, number(u)?),
            20 => Op::WriteStrided(number(u)?, step(u)?, bytes(u, 6)?),
            21 => Op::CopyWithin(number(u)?, number(u)?, number(u)?),
            22 => Op::Resize(number(u)?),
            23 => Op::FlushRange(number(u)?, number(u)?),
            24 => Op::FlushAsyncRange(number(u)?, number(u)?),
            25 => Op::RefreshLen,
            _ => Op::Advise(number(u)?, number(u)?),
        }))
    }
}

fn number(u: &mut Unstructured) -> Result<usize> {
    Ok(match u.int_in_range(0..=10u8)? {
        8 => usize::MAX,
        9 => isize::MAX as usize,
        10 => usize::MAX - 1,
        _ => u.int_in_range(0..=79)?,
    })
}

fn step(u: &mut Unstructured) -> Result<isize> {
    Ok(match u.int_in_range(0..=9u8)? {
        8 => isize::MIN,
        9 => isize::MAX,
        _ => u.int_in_range(-5..=5)?,
    })
}

fn bytes(u: &mut Unstructured, max: usize) -> Result<Vec<u8>> {
    let len = u.int_in_range(0..=max - 1)?;
    (0..len).map(|_| u.choose(b"ab\n\xff").copied()).collect()
}

fn bound(u: &mut Unstructured) -> Result<Bound<usize>> {
    Ok(match u.int_in_range(0..=2u8)? {
        0 => Bound::Unbounded,
        1 => Bound::Included(number(u)?),
        _ => Bound::Excluded(number(u)?),
    })
}

fn seek_from(u: &mut Unstructured) -> Result<SeekFrom> {
    let delta = |u: &mut Unstructured| -> Result<i64> {
        Ok(match u.int_in_range(0..=9u8)? {
            8 => i64::MIN,
            9 => i64::MAX,
            _ => u.int_in_range(-80..=79)?,
        })
    };
    Ok(match u.int_in_range(0..=2u8)? {
        0 => SeekFrom::Start(match u.arbitrary()? {
            true => u64::MAX,
            false => u.int_in_range(0..=79)?,
        }),
        1 => SeekFrom::Current(delta(u)?),
        _ => SeekFrom::End(delta(u)?),
    })
}

fuzz_target!(|input: Input| {
    if let Err(failure) = calls::run(&input.initial, &input.ops) {
        panic!("{failure}");
    }
});
