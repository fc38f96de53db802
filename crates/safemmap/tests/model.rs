//! Random call sequences on a file's map, against a model (the bytes, the
//! position): no safe call panics, whatever its arguments and the map's
//! state, and each returns what the model predicts, or at least fails
//! exactly when the model says the call is out of bounds.

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};

use proptest::prelude::*;
use safemmap::{Mmap, MmapOptions};

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

#[derive(Debug, Clone)]
enum Search {
    Find,
    Rfind,
    Count,
}

#[derive(Debug, Clone)]
enum Op {
    ReadAt(usize, usize),
    ReadExactAt(usize, usize),
    ViewReadAt(usize, usize),
    WriteAt(usize, Vec<u8>),
    WriteAllAt(usize, Vec<u8>),
    ByteAt(usize),
    SetByte(usize, u8),
    ReadByte,
    WriteByte(u8),
    Read(usize),
    ReadExact(usize),
    Write(Vec<u8>),
    Seek(SeekFrom),
    FillBuf,
    Consume(usize),
    ReadLine,
    ReadUntil,
    LineLen,
    Search(Search, Vec<u8>, Bound<usize>, Bound<usize>, Option<usize>),
    ReadStrided(usize, isize, usize),
    WriteStrided(usize, isize, Vec<u8>),
    CopyWithin(usize, usize, usize),
    Resize(usize),
    FlushRange(usize, usize),
    Advise(usize, usize),
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
        (number(), number()).prop_map(|(at, n)| Op::Advise(at, n)),
    ]
}

/// What the map should hold: its bytes (the file's too) and position.
struct Model {
    bytes: Vec<u8>,
    pos: usize,
}

impl Model {
    fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `at..at + n` if it lies in the map.
    fn span(&self, at: usize, n: usize) -> Option<std::ops::Range<usize>> {
        let end = at.checked_add(n)?;
        (end <= self.len()).then_some(at..end)
    }

    /// The indexes `start + i * step` for `i < n`, if all lie in the map.
    fn strided(&self, start: usize, step: isize, n: usize) -> Option<Vec<usize>> {
        (0..n)
            .map(|i| {
                let at = start as i128 + step as i128 * i as i128;
                (0..self.len() as i128).contains(&at).then_some(at as usize)
            })
            .collect()
    }

    /// The range clamped to the map, `None` if it ends before it starts.
    fn clamp(&self, start: Bound<usize>, end: Bound<usize>) -> Option<(usize, usize)> {
        let start = match start {
            Bound::Included(s) => s,
            Bound::Excluded(s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match end {
            Bound::Included(e) => e.saturating_add(1),
            Bound::Excluded(e) => e,
            Bound::Unbounded => self.len(),
        };
        let (start, end) = (start.min(self.len()), end.min(self.len()));
        (start <= end).then_some((start, end))
    }

    /// What a search returns; `usize::MAX` for "not found".
    fn search(
        &self,
        kind: &Search,
        needle: &[u8],
        start: Bound<usize>,
        end: Bound<usize>,
    ) -> usize {
        let Some((start, end)) = self.clamp(start, end) else {
            // A range that ends before it starts holds nothing.
            return if let Search::Count = kind {
                0
            } else {
                usize::MAX
            };
        };
        let hay = &self.bytes[start..end];
        let at = |i: usize| hay[i..].starts_with(needle);
        match kind {
            Search::Find => (0..=hay.len())
                .find(|&i| at(i))
                .map_or(usize::MAX, |i| start + i),
            Search::Rfind => (0..=hay.len())
                .rev()
                .find(|&i| at(i))
                .map_or(usize::MAX, |i| start + i),
            Search::Count if needle.is_empty() => hay.len() + 1,
            Search::Count => {
                let (mut count, mut i) = (0, 0);
                while i + needle.len() <= hay.len() {
                    if at(i) {
                        count += 1;
                        i += needle.len();
                    } else {
                        i += 1;
                    }
                }
                count
            }
        }
    }

    /// The line from the position: to and including a newline, or to the end.
    fn line(&self) -> &[u8] {
        let rest = self.bytes.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        &rest[..len]
    }
}

/// Runs `op` on `map` and `model`; a mismatch is an `Err` describing it.
fn apply(map: &mut Mmap, model: &mut Model, op: &Op) -> Result<(), String> {
    fn agree<T: std::fmt::Debug + PartialEq>(
        got: io::Result<T>,
        want: Option<T>,
    ) -> Result<(), String> {
        match (got, want) {
            (Ok(got), Some(want)) if got == want => Ok(()),
            (Err(_), None) => Ok(()),
            (got, want) => Err(format!("got {got:?}, the model says {want:?}")),
        }
    }
    let len = model.len();
    match op.clone() {
        Op::ReadAt(at, n) | Op::ViewReadAt(at, n) => {
            let mut buf = vec![0; n.min(100)];
            let got = match op {
                // SAFETY: the map outlives the view, and nothing resizes it meanwhile.
                Op::ViewReadAt(..) => unsafe { map.view() }.read_at(at, &mut buf),
                _ => map.read_at(at, &mut buf),
            };
            let want = model.bytes.get(at..).unwrap_or_default();
            let count = want.len().min(buf.len());
            agree(got, Some(count))?;
            agree(Ok(&buf[..count]), Some(&want[..count]))
        }
        Op::ReadExactAt(at, n) => {
            let mut buf = vec![0; n.min(100)];
            let want = match buf.len() {
                0 => Some(Vec::new()), // nothing to read is there anywhere
                n => model.span(at, n).map(|span| model.bytes[span].to_vec()),
            };
            agree(map.read_exact_at(at, &mut buf).map(|()| buf), want)
        }
        Op::WriteAt(at, data) | Op::WriteAllAt(at, data) => {
            let got = match op {
                Op::WriteAt(..) => map.write_at(at, &data),
                _ => map.write_all_at(at, &data),
            };
            let empty_anywhere = matches!(op, Op::WriteAllAt(..)) && data.is_empty();
            let span = model.span(at, data.len());
            if let Some(span) = span.clone() {
                model.bytes[span].copy_from_slice(&data);
            }
            agree(got, (span.is_some() || empty_anywhere).then_some(()))
        }
        Op::ByteAt(at) => agree(map.byte_at(at), model.bytes.get(at).copied()),
        Op::SetByte(at, value) => {
            let want = model.bytes.get_mut(at).map(|byte| *byte = value);
            agree(map.set_byte(at, value), want)
        }
        Op::ReadByte => {
            let want = model.bytes.get(model.pos).copied();
            model.pos += usize::from(want.is_some());
            agree(map.read_byte(), want)
        }
        Op::WriteByte(value) => {
            let want = model.bytes.get_mut(model.pos).map(|byte| *byte = value);
            model.pos += usize::from(want.is_some());
            agree(map.write_byte(value), want)
        }
        Op::Read(n) => {
            let mut buf = vec![0; n.min(100)];
            let want = model.bytes.get(model.pos..).unwrap_or_default();
            let want = want[..want.len().min(buf.len())].to_vec();
            model.pos += want.len();
            agree(
                map.read(&mut buf).map(|count| buf[..count].to_vec()),
                Some(want),
            )
        }
        Op::ReadExact(n) => {
            let mut buf = vec![0; n.min(100)];
            let want = match buf.len() {
                0 => Some(Vec::new()),
                n => model
                    .span(model.pos, n)
                    .map(|span| model.bytes[span].to_vec()),
            };
            // A short read_exact consumes what there is.
            model.pos = match &want {
                Some(bytes) => model.pos + bytes.len(),
                None => model.pos.max(len),
            };
            agree(map.read_exact(&mut buf).map(|()| buf.clone()), want)
        }
        Op::Write(data) => {
            let span = model.span(model.pos, data.len());
            if let Some(span) = span.clone() {
                model.bytes[span].copy_from_slice(&data);
                model.pos += data.len();
            }
            agree(map.write(&data), span.map(|_| data.len()))
        }
        Op::Seek(to) => {
            let target = match to {
                SeekFrom::Start(at) => at as i128,
                SeekFrom::Current(delta) => model.pos as i128 + delta as i128,
                SeekFrom::End(delta) => len as i128 + delta as i128,
            };
            let want = (0..=len as i128).contains(&target).then_some(target as u64);
            if let Some(at) = want {
                model.pos = at as usize;
            }
            agree(map.seek(to), want)
        }
        Op::FillBuf => {
            let want = model.bytes.get(model.pos..).unwrap_or_default();
            let got = map.fill_buf().map_err(|err| err.to_string())?;
            // Some of what follows the position, something unless at the end.
            if !want.starts_with(got) || got.is_empty() != want.is_empty() {
                return Err(format!("fill_buf gave {got:?} of {want:?}"));
            }
            Ok(())
        }
        Op::Consume(n) => {
            model.pos += n.min(len.saturating_sub(model.pos));
            map.consume(n);
            Ok(())
        }
        Op::ReadLine | Op::ReadUntil => {
            let line = model.line().to_vec();
            model.pos += line.len();
            if let Op::ReadUntil = op {
                let mut got = Vec::new();
                agree(map.read_until(b'\n', &mut got).map(|_| got), Some(line))
            } else {
                // Invalid UTF-8 fails, the line consumed all the same.
                let mut text = String::new();
                let want = String::from_utf8(line).ok();
                agree(map.read_line(&mut text).map(|_| text), want)
            }
        }
        Op::LineLen => agree(map.line_len(), Some(model.line().len())),
        Op::Search(kind, needle, start, end, workers) => {
            let scan = match workers {
                Some(workers) => map.scan((start, end)).workers(workers),
                None => map.scan((start, end)),
            };
            let got = match kind {
                Search::Find => scan.find(&needle).map(|found| found.unwrap_or(usize::MAX)),
                Search::Rfind => scan.rfind(&needle).map(|found| found.unwrap_or(usize::MAX)),
                Search::Count => scan.count(&needle),
            };
            agree(got, Some(model.search(&kind, &needle, start, end)))
        }
        Op::ReadStrided(at, step, n) => {
            let mut buf = vec![0; n.min(50)];
            let want = model
                .strided(at, step, buf.len())
                .map(|indexes| indexes.iter().map(|&i| model.bytes[i]).collect::<Vec<_>>());
            agree(map.read_strided(at, step, &mut buf).map(|()| buf), want)
        }
        Op::WriteStrided(at, step, data) => {
            let want = model.strided(at, step, data.len()).map(|indexes| {
                for (&i, &value) in indexes.iter().zip(&data) {
                    model.bytes[i] = value;
                }
            });
            agree(map.write_strided(at, step, &data), want)
        }
        Op::CopyWithin(dest, src, n) => {
            let want = model.span(dest, n).and(model.span(src, n));
            if let Some(src) = want.clone() {
                model.bytes.copy_within(src, dest);
            }
            agree(map.copy_within(dest, src, n), want.map(|_| ()))
        }
        Op::Resize(new_len) => {
            // 0 is refused; the extremes do not fit the file system, the
            // address space or an `isize`.
            if (1..1 << 20).contains(&new_len) {
                model.bytes.resize(new_len, 0);
                agree(map.resize(new_len), Some(()))?;
                agree(map.file_size(), Some(new_len as u64))
            } else {
                agree(map.resize(new_len), None)
            }
        }
        Op::FlushRange(at, n) => {
            let got = map.flush_range(at, n);
            match model.span(at, n) {
                None => agree(got, None),
                // The kernel wants a page-aligned start; the map's is.
                Some(_) if at == 0 => agree(got, Some(())),
                Some(_) => Ok(()),
            }
        }
        Op::Advise(at, n) => {
            let got = map.advise(0, at, n);
            if at >= len || n > isize::MAX as usize {
                agree(got, None)
            } else {
                Ok(()) // the kernel's answer: platform and alignment
            }
        }
    }?;
    if map.len() != model.len() || map.position() != model.pos {
        return Err(format!(
            "length {} position {}, the model says {} and {}",
            map.len(),
            map.position(),
            model.len(),
            model.pos
        ));
    }
    Ok(())
}

fn run(initial: &[u8], ops: &[Op]) -> Result<(), TestCaseError> {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(initial).unwrap();
    let mut map = Mmap::map(&file).unwrap();
    let mut model = Model {
        bytes: initial.to_vec(),
        pos: 0,
    };
    for (i, op) in ops.iter().enumerate() {
        let outcome = catch_unwind(AssertUnwindSafe(|| apply(&mut map, &mut model, op)));
        match outcome {
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                return Err(TestCaseError::fail(format!(
                    "op {i}, {op:?}, panicked: {message}"
                )));
            }
            Ok(Err(mismatch)) => {
                return Err(TestCaseError::fail(format!("op {i}, {op:?}: {mismatch}")));
            }
            Ok(Ok(())) => {}
        }
    }
    prop_assert_eq!(map.to_vec().unwrap(), model.bytes);
    Ok(())
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
        run(&initial, &ops)?;
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
