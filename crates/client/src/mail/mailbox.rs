//! The messages of one input: a single message (.eml), or each message of an mbox file
//! (one whose first line is a `From ` line), read as a stream.
//!
//! mbox is split here rather than by mail-parser's `MessageIterator`, which holds a whole
//! message in memory however large it is: each message is bounded by the limit, and one
//! larger than that is skipped up to the next `From ` line and reported, so an mbox of any
//! size is read in bounded memory. Lines quoted as `>From ` (mboxo and mboxrd) lose one `>`.

use std::io::{BufRead, Read};
use std::path::Path;

/// One message of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// Its bytes (empty when it was larger than the limit).
    pub bytes: Vec<u8>,
    /// Its position in an mbox (1 for the first), `None` for a single message.
    pub index: Option<usize>,
    /// The envelope sender of its mbox `From ` line.
    pub envelope_from: Option<String>,
    /// Whether it was larger than the limit (and so not read).
    pub oversize: bool,
}

/// Files up to this size are read whole with one read; larger ones are streamed.
const WHOLE_FILE: u64 = 64 * 1024 * 1024;

/// The messages of one file. A file of a single message is read whole into a buffer of its
/// size and handed over as it is (one larger than `limit` is not read); an mbox is split
/// from memory when small, streamed when larger than the limit or [`WHOLE_FILE`].
pub fn file(
    path: &Path,
    limit: u64,
) -> std::io::Result<Box<dyn Iterator<Item = std::io::Result<Captured>> + Send>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len <= WHOLE_FILE.min(limit) {
        let mut bytes = Vec::with_capacity(len as usize);
        f.read_to_end(&mut bytes)?;
        if bytes.starts_with(b"From ") {
            return Ok(Box::new(Messages::new(std::io::Cursor::new(bytes), limit)));
        }
        return Ok(Box::new(std::iter::once(Ok(single(bytes, limit)))));
    }
    let mut head = Vec::with_capacity(5);
    (&mut f).take(5).read_to_end(&mut head)?;
    if head.starts_with(b"From ") {
        let reader =
            std::io::BufReader::with_capacity(64 * 1024, std::io::Cursor::new(head).chain(f));
        return Ok(Box::new(Messages::new(reader, limit)));
    }
    if len > limit {
        // Not read at all.
        let too_large = Captured {
            oversize: true,
            ..single(Vec::new(), limit)
        };
        return Ok(Box::new(std::iter::once(Ok(too_large))));
    }
    let mut bytes = head;
    bytes.reserve(len as usize);
    f.take(limit.saturating_add(1) - 5)
        .read_to_end(&mut bytes)?;
    Ok(Box::new(std::iter::once(Ok(single(bytes, limit)))))
}

/// A single message as read (at most `limit` + 1 bytes): empty and marked oversize when
/// it is larger than `limit`.
fn single(bytes: Vec<u8>, limit: u64) -> Captured {
    let oversize = bytes.len() as u64 > limit;
    Captured {
        bytes: if oversize { Vec::new() } else { bytes },
        index: None,
        envelope_from: None,
        oversize,
    }
}

/// The messages of a reader, each at most `limit` bytes.
pub struct Messages<R> {
    reader: R,
    limit: u64,
    /// `None` until the first line is seen; then whether this is an mbox.
    mbox: Option<bool>,
    /// The `From ` line of the mbox message that comes next.
    next_from: Option<Vec<u8>>,
    index: usize,
    done: bool,
}

impl<R: BufRead> Messages<R> {
    /// Reads messages from `reader`, each bounded by `limit` bytes.
    pub fn new(reader: R, limit: u64) -> Messages<R> {
        Messages {
            reader,
            limit,
            mbox: None,
            next_from: None,
            index: 0,
            done: false,
        }
    }

    fn single(&mut self) -> std::io::Result<Captured> {
        let mut bytes = Vec::new();
        (&mut self.reader)
            .take(self.limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
        Ok(single(bytes, self.limit))
    }

    /// The next mbox message; its `From ` line has been read into `next_from`.
    fn mbox_message(&mut self) -> std::io::Result<Option<Captured>> {
        let Some(from_line) = self.next_from.take() else {
            return Ok(None);
        };
        self.index += 1;
        let mut bytes = Vec::new();
        let mut oversize = false;
        let mut line = Vec::with_capacity(128);
        loop {
            line.clear();
            if self.reader.read_until(b'\n', &mut line)? == 0 {
                self.done = true;
                break;
            }
            if line.starts_with(b"From ") {
                self.next_from = Some(line.clone());
                break;
            }
            if oversize {
                continue;
            }
            let quoted = line.iter().position(|b| *b != b'>').unwrap_or(0);
            let content = if quoted > 0 && line[quoted..].starts_with(b"From ") {
                &line[1..]
            } else {
                &line[..]
            };
            if (bytes.len() + content.len()) as u64 > self.limit {
                oversize = true;
                bytes = Vec::new();
                continue;
            }
            bytes.extend_from_slice(content);
        }
        let envelope_from = String::from_utf8_lossy(&from_line)
            .split_whitespace()
            .nth(1)
            .map(str::to_owned);
        Ok(Some(Captured {
            bytes,
            index: Some(self.index),
            envelope_from,
            oversize,
        }))
    }
}

impl<R: BufRead> Iterator for Messages<R> {
    type Item = std::io::Result<Captured>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.mbox.is_none() {
            let is_mbox = match self.reader.fill_buf() {
                Ok(head) => head.starts_with(b"From "),
                Err(e) => return Some(Err(e)),
            };
            self.mbox = Some(is_mbox);
            if !is_mbox {
                self.done = true;
                return Some(self.single());
            }
            let mut first = Vec::new();
            if let Err(e) = self.reader.read_until(b'\n', &mut first) {
                return Some(Err(e));
            }
            self.next_from = Some(first);
        }
        if self.mbox == Some(false) || (self.done && self.next_from.is_none()) {
            return None;
        }
        self.mbox_message().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &str, limit: u64) -> Vec<Captured> {
        Messages::new(input.as_bytes(), limit)
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn files_are_read_whole_or_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.eml");
        std::fs::write(&one, "From: a@b.example\r\n\r\nbody\r\n").unwrap();
        let got: Vec<Captured> = file(&one, 100).unwrap().map(Result::unwrap).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].bytes, b"From: a@b.example\r\n\r\nbody\r\n");
        let got: Vec<Captured> = file(&one, 5).unwrap().map(Result::unwrap).collect();
        assert!(got[0].oversize && got[0].bytes.is_empty());
        let mbox = dir.path().join("box");
        std::fs::write(&mbox, "From a@b Mon\nX: 1\n\nFrom c@d Tue\nX: 2\n\n").unwrap();
        assert_eq!(file(&mbox, 100).unwrap().count(), 2);
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(file(&empty, 100).unwrap().count(), 1);
    }

    #[test]
    fn a_single_message_is_one() {
        let got = all("From: a@b.example\r\n\r\nbody\r\n", 100);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].index, None);
        assert_eq!(got[0].bytes, b"From: a@b.example\r\n\r\nbody\r\n");
        assert!(all("From: a@b.example\r\n\r\nbody\r\n", 5)[0].oversize);
        assert_eq!(
            all("", 5).len(),
            1,
            "an empty file is one (unusable) message"
        );
    }

    #[test]
    fn mbox_messages_are_split_unquoted_and_bounded() {
        let mbox = "From alice@example.org Mon Jan  1 00:00:00 2024\n\
                    From: alice@example.org\nTo: bob@example.org\n\n>From the start\n>>From x\n\n\
                    From MAILER-DAEMON Tue Jan  2 00:00:00 2024\n\
                    From: c@example.org\nTo: d@example.org\n\n\
                    a long body that is over the limit of this test, a long body, a long body\n\
                    From carol@example.org Wed Jan  3 00:00:00 2024\n\
                    From: carol@example.org\nTo: dan@example.org\n\nlast\n";
        let got = all(mbox, 80);
        assert_eq!(got.len(), 3);
        assert_eq!(
            String::from_utf8_lossy(&got[0].bytes),
            "From: alice@example.org\nTo: bob@example.org\n\nFrom the start\n>From x\n\n"
        );
        assert_eq!(got[0].envelope_from.as_deref(), Some("alice@example.org"));
        assert_eq!(got[0].index, Some(1));
        assert!(got[1].oversize && got[1].bytes.is_empty());
        assert_eq!(got[2].index, Some(3));
        assert!(String::from_utf8_lossy(&got[2].bytes).ends_with("last\n"));
    }
}
