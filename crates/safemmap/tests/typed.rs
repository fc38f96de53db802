//! Typed reads and writes at an offset, gathers and chunks, against the
//! standard library's conversions over a copy of the bytes.

use std::io::ErrorKind;

use proptest::prelude::*;
use safemmap::{refusal, Error, Mmap};

/// A map of a file holding `bytes` (an empty one for none).
fn map_of(bytes: &[u8]) -> Mmap {
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, bytes).unwrap();
    Mmap::map(&file).unwrap()
}

fn counting(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

fn past_end(result: std::io::Result<impl std::fmt::Debug>) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof, "{err}");
    assert_eq!(refusal(&err), Some(Error::RangePastEnd));
}

#[test]
fn numbers_read_as_from_their_bytes_in_either_order() {
    let bytes = counting(40);
    let map = map_of(&bytes);
    for at in 0..=24 {
        let array = |n: usize| bytes[at..at + n].to_vec();
        assert_eq!(map.read_le::<u8>(at).unwrap(), bytes[at]);
        assert_eq!(
            map.read_le::<u16>(at).unwrap(),
            u16::from_le_bytes(array(2).try_into().unwrap())
        );
        assert_eq!(
            map.read_be::<i32>(at).unwrap(),
            i32::from_be_bytes(array(4).try_into().unwrap())
        );
        assert_eq!(
            map.read_le::<u64>(at).unwrap(),
            u64::from_le_bytes(array(8).try_into().unwrap())
        );
        assert_eq!(
            map.read_be::<f64>(at).unwrap().to_bits(),
            f64::from_be_bytes(array(8).try_into().unwrap()).to_bits()
        );
        assert_eq!(
            map.read_le::<i128>(at).unwrap(),
            i128::from_le_bytes(array(16).try_into().unwrap())
        );
    }
}

#[test]
fn numbers_write_their_bytes_in_either_order() {
    let mut map = Mmap::anonymous(32).unwrap();
    map.write_le(1, 0x0102_0304_u32).unwrap();
    map.write_be(5, 0x0506_u16).unwrap();
    map.write_le(7, -2.5_f32).unwrap();
    map.write_be(11, u128::MAX - 1).unwrap();
    let mut expected = vec![0; 32];
    expected[1..5].copy_from_slice(&0x0102_0304_u32.to_le_bytes());
    expected[5..7].copy_from_slice(&0x0506_u16.to_be_bytes());
    expected[7..11].copy_from_slice(&(-2.5_f32).to_le_bytes());
    expected[11..27].copy_from_slice(&(u128::MAX - 1).to_be_bytes());
    assert_eq!(map.to_vec().unwrap(), expected);
}

#[test]
fn a_number_past_the_end_is_an_eof_error_at_any_offset() {
    let mut map = map_of(&counting(16));
    past_end(map.read_le::<u64>(9));
    past_end(map.read_be::<u8>(16));
    past_end(map.read_le::<u128>(1));
    for offset in [usize::MAX, usize::MAX - 3, isize::MAX as usize] {
        past_end(map.read_le::<u32>(offset));
        past_end(map.write_be(offset, 1_u16));
    }
    past_end(map.write_le(12, 1_u64));
    assert_eq!(map.to_vec().unwrap(), counting(16), "nothing written");
    let mut empty = map_of(&[]);
    past_end(empty.read_le::<u8>(0));
    past_end(empty.write_le(0, 0_u8));
}

#[test]
fn writes_to_a_read_only_map_are_refused() {
    let mut file = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut file, &[1; 8]).unwrap();
    let mut map = Mmap::map_read_only(&file).unwrap();
    assert_eq!(map.read_le::<u64>(0).unwrap(), 0x0101_0101_0101_0101);
    let err = map.write_le(0, 2_u64).unwrap_err();
    assert_eq!(refusal(&err), Some(Error::ReadOnly));
}

#[test]
fn gathers_read_each_offset_and_stop_at_the_first_bad_one() {
    let bytes = counting(64);
    let map = map_of(&bytes);
    let offsets = [56, 0, 3, 33];
    let mut values = [0_u64; 4];
    map.gather_le(&offsets, &mut values).unwrap();
    let le = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    assert_eq!(values, offsets.map(le));
    let mut big = [0_u32; 4];
    map.gather_be(&offsets, &mut big).unwrap();
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(big, offsets.map(be));

    let mut values = [0_u64; 3];
    past_end(map.gather_le(&[8, 57, 0], &mut values));
    assert_eq!(values, [le(8), 0, 0], "filled up to the bad offset");
    let err = map.gather_le(&[0, 8], &mut values).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(refusal(&err), Some(Error::GatherLengthMismatch));
    map.gather_le::<u64>(&[], &mut []).unwrap();
}

#[test]
fn small_reads_and_writes_of_every_length_move_exactly_their_bytes() {
    let bytes = counting(48);
    for len in 0..=20 {
        for at in [0, 1, 7, 48 - len] {
            let mut map = map_of(&bytes);
            let mut out = vec![0xAA; len];
            map.read_exact_at(at, &mut out).unwrap();
            assert_eq!(out, bytes[at..at + len], "read {len} at {at}");
            let data: Vec<u8> = (0..len as u8).map(|b| !b).collect();
            map.write_all_at(at, &data).unwrap();
            let mut expected = bytes.clone();
            expected[at..at + len].copy_from_slice(&data);
            assert_eq!(map.to_vec().unwrap(), expected, "write {len} at {at}");
            past_end(map.read_exact_at(49 - len.max(1), &mut vec![0; len.max(1)]));
        }
    }
}

/// What `chunks(block).overlap(overlap)` yields, from the bytes directly.
fn expected_chunks(bytes: &[u8], block: usize, overlap: usize) -> Vec<(usize, Vec<u8>)> {
    let block = block.clamp(1, bytes.len().max(1));
    let mut chunks = Vec::new();
    let (mut start, mut previous_len) = (0, 0);
    while start < bytes.len() {
        let keep = overlap.min(previous_len).min(bytes.len());
        let end = (start + block).min(bytes.len());
        chunks.push((start - keep, bytes[start - keep..end].to_vec()));
        previous_len = end - (start - keep);
        start = end;
    }
    chunks
}

proptest! {
    #[test]
    fn chunks_hold_every_byte_once_plus_the_overlap(
        len in 0_usize..300,
        block in prop_oneof![0_usize..40, Just(usize::MAX)],
        overlap in prop_oneof![0_usize..50, Just(usize::MAX)],
    ) {
        let bytes = counting(len);
        let map = map_of(&bytes);
        let mut chunks = map.chunks(block).overlap(overlap);
        let mut seen = Vec::new();
        while let Some((offset, chunk)) = chunks.next_chunk().unwrap() {
            seen.push((offset, chunk.to_vec()));
        }
        prop_assert_eq!(seen, expected_chunks(&bytes, block, overlap));
        prop_assert!(chunks.next_chunk().unwrap().is_none());
    }
}

#[cfg(feature = "bytemuck")]
#[test]
fn plain_old_data_reads_and_writes_its_bytes() {
    #[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C)]
    struct Record {
        key: u64,
        value: [u8; 24],
    }
    let record = Record {
        key: 0x0102_0304_0506_0708,
        value: [9; 24],
    };
    let mut map = Mmap::anonymous(100).unwrap();
    map.write_pod(3, &record).unwrap();
    assert_eq!(map.read_pod::<Record>(3).unwrap(), record);
    assert_eq!(
        map.read_le::<u64>(3).unwrap(),
        u64::from_ne_bytes(record.key.to_ne_bytes())
    );
    past_end(map.read_pod::<Record>(69));
    past_end(map.write_pod(usize::MAX, &record));
    assert_eq!(map.read_pod::<()>(usize::MAX).unwrap(), ());
}
