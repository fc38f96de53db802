//! Calls on a file's map and a model of what they should do (the bytes,
//! the position): shared by the property test (`tests/model.rs`) and the
//! fuzz target (`fuzz/fuzz_targets/calls.rs`), which generate the calls
//! each their own way.

use std::io::{self, BufRead, Read, Seek, SeekFrom, Write};
use std::ops::Bound;
use std::panic::{catch_unwind, AssertUnwindSafe};

use safemmap::Mmap;

#[derive(Debug, Clone, Copy)]
pub enum Search {
    Find,
    Rfind,
    Count,
}

#[derive(Debug, Clone)]
pub enum Op {
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
    FlushAsyncRange(usize, usize),
    RefreshLen,
    Advise(usize, usize),
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
        Op::FlushRange(at, n) | Op::FlushAsyncRange(at, n) => {
            let got = match op {
                Op::FlushRange(..) => map.flush_range(at, n),
                _ => map.flush_async_range(at, n),
            };
            match model.span(at, n) {
                None => agree(got, None),
                // The kernel wants a page-aligned start; the map's is.
                Some(_) if at == 0 => agree(got, Some(())),
                Some(_) => Ok(()),
            }
        }
        // The map covers its whole file, which only it changes.
        Op::RefreshLen => agree(map.refresh_len(), Some(len)),
        Op::Advise(at, n) => {
            let got = map.advise(safemmap::Advice::Normal, at, n);
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

/// Maps a file holding `initial` and runs `ops` on it and on the model: a
/// panic or a disagreement is an `Err` naming the call.
pub fn run(initial: &[u8], ops: &[Op]) -> Result<(), String> {
    let mut file = tempfile::tempfile().map_err(|err| err.to_string())?;
    file.write_all(initial).map_err(|err| err.to_string())?;
    let mut map = Mmap::map(&file).map_err(|err| err.to_string())?;
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
                return Err(format!("op {i}, {op:?}, panicked: {message}"));
            }
            Ok(Err(mismatch)) => return Err(format!("op {i}, {op:?}: {mismatch}")),
            Ok(Ok(())) => {}
        }
    }
    let bytes = map.to_vec().map_err(|err| err.to_string())?;
    match bytes == model.bytes {
        true => Ok(()),
        false => Err(format!(
            "the map holds {bytes:?}, the model {:?}",
            model.bytes
        )),
    }
}
