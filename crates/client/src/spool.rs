//! The client spool: a durable local queue of pushes that could not be delivered, sent
//! later in order, so nothing is lost while the server is away.
//!
//! Each spooled push is one file under `DIR/queue`, named by a sequence number that keeps
//! the order. A file is written beside its final name, flushed to the disk, then renamed
//! and the directory flushed too: a push reported as spooled survives a crash of the
//! client or the machine, and a crash half-way leaves only a temporary file, removed at
//! the next open. Each file starts with a header holding the length and SHA-256 of its
//! record: a damaged file is reported, moved to `DIR/corrupt`, and skipped.
//!
//! Every spooled push carries an idempotency key, sent with each attempt: when an answer
//! is lost and the push is sent again (by a later drain, even a day later), the server
//! stores it once. A file is removed only after the server's answer for it, so a client
//! killed while draining sends the rest again on the next drain, and nothing twice.
//!
//! One process uses a spool at a time (`DIR/lock`); another waits for it.

use crate::error::ClientError;
use crate::push::PushDetection;
use pushdetect_model::batch::{method_name, ItemResult, Outcome, KEY_FIELD, METHOD_FIELD};
use pushdetect_model::{BatchItem, ErrorCode, EventKind, FormParams, IdempotencyKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

/// The first word of every record file, with the format's version.
const MAGIC: &str = "pushdetect-spool 1";

/// The extension of a queued record.
const RECORD: &str = "push";

/// Longest record accepted when reading (a push is bounded far below this by the model's
/// limits): a damaged length field must not make a drain read gigabytes.
const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// Items sent per batch push while draining (the server accepts up to 1,000 by default;
/// a server configured lower makes the drain halve this until it fits).
pub const DRAIN_BATCH: usize = 500;

/// Why the spool could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file or directory of the spool could not be read or written.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One push waiting in the spool: which method, its parameters, and the key that makes
/// its resends safe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpooledPush {
    /// The push method's short name (`push_mail`).
    pub method: String,
    /// The idempotency key sent with every attempt.
    pub key: String,
    /// The form parameters, as the single push sends them.
    pub params: Vec<(String, String)>,
    /// When it was spooled (ms since the epoch).
    pub spooled_at_ms: i64,
}

impl SpooledPush {
    /// A push of `kind` to spool, with the key its first attempt was sent with.
    pub fn new(kind: EventKind, params: &FormParams, key: &IdempotencyKey) -> Self {
        SpooledPush {
            method: method_name(kind).to_owned(),
            key: key.as_str().to_owned(),
            params: params.pairs().to_vec(),
            spooled_at_ms: chrono::Utc::now().timestamp_millis(),
        }
    }

    /// The push as an item of a batch push.
    pub fn item(&self) -> Result<BatchItem, String> {
        let mut item = serde_json::Map::new();
        item.insert(METHOD_FIELD.into(), self.method.clone().into());
        item.insert(KEY_FIELD.into(), self.key.clone().into());
        for (name, value) in &self.params {
            item.entry(name.clone())
                .or_insert_with(|| value.clone().into());
        }
        BatchItem::read(serde_json::Value::Object(item)).map_err(|e| e.message)
    }
}

/// A new random idempotency key (128 bits, hex).
pub fn new_key() -> IdempotencyKey {
    let bytes: [u8; 16] = rand::random();
    IdempotencyKey::parse(KEY_FIELD, &hex::encode(bytes))
        .unwrap_or_else(|_| unreachable!("32 hex digits are a valid key"))
}

/// A record read back from the queue.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    read: Result<SpooledPush, String>,
}

/// What a drain did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DrainReport {
    /// Pushes the server stored.
    pub sent: usize,
    /// Pushes the server had already stored (a resend after a lost answer).
    pub duplicates: usize,
    /// Pushes the server refused for good (moved to `rejected`), each with why.
    pub rejected: Vec<String>,
    /// Damaged records moved to `corrupt`, each with why.
    pub corrupt: Vec<String>,
    /// Why the drain stopped before the queue was empty, if it did.
    pub stopped: Option<String>,
    /// Pushes still queued.
    pub left: usize,
}

/// What `pushdetect spool status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpoolStatus {
    /// Pushes queued.
    pub queued: usize,
    /// When the oldest queued push was spooled (ms since the epoch).
    pub oldest_spooled_at_ms: Option<i64>,
    /// The last delivery error, with its time, if any since the last complete drain.
    pub last_error: Option<String>,
    /// Pushes the server refused for good, kept in `rejected`.
    pub rejected: usize,
    /// Damaged records kept in `corrupt`.
    pub corrupt: usize,
}

/// How a push went: delivered, or kept in the spool for later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The server answered "OK".
    Pushed,
    /// Not delivered now, for this reason; spooled, to be sent by a later drain.
    Spooled(String),
}

/// An open spool directory, locked for this process.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    _lock: File,
    /// The sequence number of the last record appended or found at open: only this
    /// process appends while it holds the lock, so it need not list the queue each time.
    last_seq: Mutex<u128>,
}

impl Spool {
    /// Opens (creating it if needed) the spool at `dir`, waiting while another process
    /// uses it, and removes what a crash left half-written.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        for sub in ["queue", "corrupt", "rejected"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(io_at(&path))?;
        }
        let lock_path = dir.join("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_at(&lock_path))?;
        if lock.try_lock().is_err() {
            tracing::info!(
                "spool {} is in use by another process; waiting",
                dir.display()
            );
            lock.lock().map_err(io_at(&lock_path))?;
        }
        let spool = Spool {
            dir: dir.to_owned(),
            _lock: lock,
            last_seq: Mutex::new(0),
        };
        let queue = spool.queue();
        for entry in fs::read_dir(&queue).map_err(io_at(&queue))? {
            let path = entry.map_err(io_at(&queue))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                fs::remove_file(&path).map_err(io_at(&path))?;
            }
        }
        let last = spool.files()?.last().map_or(0, |(seq, _)| *seq);
        *spool.last_seq() = last;
        Ok(spool)
    }

    /// The spool's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn last_seq(&self) -> std::sync::MutexGuard<'_, u128> {
        self.last_seq.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue(&self) -> PathBuf {
        self.dir.join("queue")
    }

    /// The queued records' files, oldest first.
    fn files(&self) -> Result<Vec<(u128, PathBuf)>, SpoolError> {
        let queue = self.queue();
        let mut files = Vec::new();
        for entry in fs::read_dir(&queue).map_err(io_at(&queue))? {
            let path = entry.map_err(io_at(&queue))?.path();
            let seq = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u128>().ok());
            match seq {
                Some(seq) if path.extension().is_some_and(|e| e == RECORD) => {
                    files.push((seq, path))
                }
                _ => {}
            }
        }
        files.sort();
        Ok(files)
    }

    /// Appends a push durably: once this returns, the push survives a crash.
    pub fn append(&self, push: &SpooledPush) -> Result<(), SpoolError> {
        let payload = serde_json::to_vec(push).unwrap_or_default();
        let header = format!(
            "{MAGIC} sha256={} len={}\n",
            hex::encode(Sha256::digest(&payload)),
            payload.len()
        );
        // After every record appended or queued, and not before now (in µs): the order
        // survives an empty queue and a restart.
        let now = u128::try_from(chrono::Utc::now().timestamp_micros()).unwrap_or(0);
        let seq = {
            let mut last = self.last_seq();
            *last = (*last + 1).max(now);
            *last
        };
        let queue = self.queue();
        let tmp = queue.join(format!("{seq:020}.tmp"));
        let done = queue.join(format!("{seq:020}.{RECORD}"));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_at(&tmp))?;
        file.write_all(header.as_bytes())
            .and_then(|_| file.write_all(&payload))
            .and_then(|_| file.sync_all())
            .map_err(io_at(&tmp))?;
        fs::rename(&tmp, &done).map_err(io_at(&done))?;
        sync_dir(&queue)
    }

    /// Reads up to `n` queued records, oldest first.
    fn next(&self, n: usize) -> Result<Vec<Entry>, SpoolError> {
        self.files()?
            .into_iter()
            .take(n)
            .map(|(_, path)| {
                let read = read_record(&path)?;
                Ok(Entry { path, read })
            })
            .collect()
    }

    /// Removes a record once the server answered for it.
    fn remove(&self, entry: &Entry) -> Result<(), SpoolError> {
        fs::remove_file(&entry.path).map_err(io_at(&entry.path))?;
        sync_dir(&self.queue())
    }

    /// Moves a record out of the queue into `sub` (`corrupt`, `rejected`), with why.
    fn set_aside(&self, entry: &Entry, sub: &str, why: &str) -> Result<(), SpoolError> {
        let name = entry.path.file_name().unwrap_or_default();
        let to = self.dir.join(sub).join(name);
        fs::rename(&entry.path, &to).map_err(io_at(&to))?;
        let note = to.with_extension("why");
        fs::write(&note, format!("{why}\n")).map_err(io_at(&note))?;
        sync_dir(&self.queue())
    }

    fn last_error_path(&self) -> PathBuf {
        self.dir.join("last_error")
    }

    /// Remembers why a delivery failed, for `spool status`.
    fn note_error(&self, why: &str) {
        let line = format!("{} {why}", chrono::Utc::now().to_rfc3339());
        if let Err(e) = fs::write(self.last_error_path(), line) {
            tracing::warn!("cannot record the spool's last error: {e}");
        }
    }

    /// Count, oldest age and last error of the queue, and what was set aside.
    pub fn status(&self) -> Result<SpoolStatus, SpoolError> {
        let files = self.files()?;
        let oldest = files
            .first()
            .map(|(_, path)| read_record(path))
            .transpose()?
            .and_then(|r| r.ok())
            .map(|r| r.spooled_at_ms);
        let count = |sub: &str| -> Result<usize, SpoolError> {
            let path = self.dir.join(sub);
            let entries = fs::read_dir(&path).map_err(io_at(&path))?;
            Ok(entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == RECORD))
                .count())
        };
        let last_error = fs::read_to_string(self.last_error_path())
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Ok(SpoolStatus {
            queued: files.len(),
            oldest_spooled_at_ms: oldest,
            last_error,
            rejected: count("rejected")?,
            corrupt: count("corrupt")?,
        })
    }

    /// Sends the queue in order with batch pushes of up to `batch` items, removing each
    /// push after the server's answer for it: stored or already stored (its key), or
    /// refused for good (then moved to `rejected`, with the error). Damaged records are
    /// moved to `corrupt` and skipped. Stops at the first delivery failure, which is kept
    /// for `status`; what is left is sent by the next drain.
    pub async fn drain(
        &self,
        push: &PushDetection<'_>,
        batch: usize,
    ) -> Result<DrainReport, SpoolError> {
        let mut report = DrainReport::default();
        let mut batch = batch.max(1);
        loop {
            let mut entries = Vec::new();
            let mut items = Vec::new();
            for entry in self.next(batch)? {
                let item = match &entry.read {
                    Ok(push) => push.item(),
                    Err(why) => Err(why.clone()),
                };
                match item {
                    Ok(item) => {
                        items.push(item);
                        entries.push(entry);
                    }
                    Err(why) => {
                        tracing::warn!("{}: {why}; set aside", entry.path.display());
                        self.set_aside(&entry, "corrupt", &why)?;
                        report
                            .corrupt
                            .push(format!("{}: {why}", entry.path.display()));
                    }
                }
            }
            if entries.is_empty() {
                if self.files()?.is_empty() {
                    break;
                }
                continue;
            }
            let answer = match push.push_events(&items).await {
                Ok(answer) => answer,
                // The server takes fewer items per request than sent: smaller batches.
                Err(e) if batch > 1 && too_large(&e) => {
                    batch /= 2;
                    continue;
                }
                Err(e) => {
                    let why = e.to_string();
                    self.note_error(&why);
                    report.stopped = Some(why);
                    break;
                }
            };
            if !one_per_item_in_order(&answer.results, entries.len()) {
                let why = format!(
                    "the server answered {} results for {} items, not one per item in order",
                    answer.results.len(),
                    entries.len()
                );
                self.note_error(&why);
                report.stopped = Some(why);
                break;
            }
            for (entry, result) in entries.iter().zip(&answer.results) {
                match result.result {
                    Outcome::Stored => report.sent += 1,
                    Outcome::Duplicate => report.duplicates += 1,
                    Outcome::Refused => {
                        let why = format!(
                            "{} (error {})",
                            result.error.as_deref().unwrap_or("refused"),
                            result.error_code.unwrap_or(0)
                        );
                        self.set_aside(entry, "rejected", &why)?;
                        report
                            .rejected
                            .push(format!("{}: {why}", entry.path.display()));
                        continue;
                    }
                }
                self.remove(entry)?;
            }
        }
        report.left = self.files()?.len();
        if report.left == 0 {
            let _ = fs::remove_file(self.last_error_path());
        }
        Ok(report)
    }

    /// Delivers one push: after the queue (so the order holds), with a fresh idempotency
    /// key; if it cannot be delivered now (the server is unreachable or failing, or
    /// refuses the session even after logging in again), it is spooled with that key. A
    /// refusal a retry cannot fix (a bad parameter) is returned as the error.
    pub async fn deliver(
        &self,
        push: &PushDetection<'_>,
        kind: EventKind,
        params: &FormParams,
    ) -> Result<Delivery, ClientError> {
        PushDetection::check(kind, params)?;
        let key = new_key();
        let spool = |why: String| -> Result<Delivery, ClientError> {
            self.append(&SpooledPush::new(kind, params, &key))
                .map_err(|e| ClientError::Config(e.to_string()))?;
            self.note_error(&why);
            Ok(Delivery::Spooled(why))
        };
        let drained = self
            .drain(push, DRAIN_BATCH)
            .await
            .map_err(|e| ClientError::Config(e.to_string()))?;
        if drained.left > 0 {
            let why = drained
                .stopped
                .unwrap_or_else(|| "earlier pushes are still queued".into());
            return spool(why);
        }
        match push.push_keyed(kind, params, &key).await {
            Ok(_) => Ok(Delivery::Pushed),
            Err(e) if spoolable(&e) => spool(e.to_string()),
            Err(e) => Err(e),
        }
    }
}

/// Whether a failed push may succeed later unchanged: the server was unreachable or
/// failing (a communication error, an HTTP error status), or refused the session even
/// after logging in again (3001-3004).
pub fn spoolable(e: &ClientError) -> bool {
    matches!(e, ClientError::Communication(_)) || e.is_session_error()
}

/// Whether a batch answer holds one result per item, in order. Anything else answers for
/// none of them (and sending the same items again would get the same answer).
fn one_per_item_in_order(results: &[ItemResult], items: usize) -> bool {
    results.len() == items && results.iter().enumerate().all(|(i, r)| r.index == i)
}

/// Whether the server refused a batch for its size (too many items, or HTTP 413).
fn too_large(e: &ClientError) -> bool {
    match e {
        ClientError::Api { code, message } => {
            *code == ErrorCode::MalformedRequest.number() && message.contains("at most")
        }
        ClientError::Communication(message) => message.contains("413"),
        _ => false,
    }
}

/// Reads and checks one record file: `Err` inside is why the record is damaged.
fn read_record(path: &Path) -> Result<Result<SpooledPush, String>, SpoolError> {
    let meta = fs::metadata(path).map_err(io_at(path))?;
    if meta.len() > MAX_RECORD_BYTES {
        return Ok(Err(format!("{} bytes, larger than any record", meta.len())));
    }
    let bytes = fs::read(path).map_err(io_at(path))?;
    Ok(parse_record(&bytes))
}

fn parse_record(bytes: &[u8]) -> Result<SpooledPush, String> {
    let newline = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("no header line")?;
    let header = std::str::from_utf8(&bytes[..newline]).map_err(|_| "the header is not text")?;
    let payload = &bytes[newline + 1..];
    let rest = header
        .strip_prefix(MAGIC)
        .ok_or("not a pushdetect spool record")?;
    let mut digest = None;
    let mut len = None;
    for field in rest.split_whitespace() {
        if let Some(d) = field.strip_prefix("sha256=") {
            digest = Some(d);
        } else if let Some(l) = field.strip_prefix("len=") {
            len = l.parse::<usize>().ok();
        }
    }
    let (digest, len) = digest.zip(len).ok_or("the header lacks sha256 or len")?;
    if payload.len() != len {
        return Err(format!(
            "{} bytes of record where the header says {len} (cut short or overwritten)",
            payload.len()
        ));
    }
    if hex::encode(Sha256::digest(payload)) != digest {
        return Err("the checksum does not match the record (damaged)".into());
    }
    serde_json::from_slice(payload).map_err(|e| format!("the record is not a spooled push: {e}"))
}

/// Flushes a directory's entries (a rename or removal in it) to the disk.
fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(n: usize) -> SpooledPush {
        SpooledPush::new(
            EventKind::Ioc,
            &FormParams::from_pairs([("ioc_uuid", format!("u{n}"))]),
            &new_key(),
        )
    }

    /// The IOC uuids of the queued records, in queue order.
    fn queued_uuids(spool: &Spool) -> Vec<String> {
        spool
            .next(10)
            .unwrap()
            .into_iter()
            .map(|e| e.read.unwrap().params[0].1.clone())
            .collect()
    }

    #[test]
    fn records_come_back_in_order_and_intact() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let pushes: Vec<_> = (0..5).map(push).collect();
        for p in &pushes {
            spool.append(p).unwrap();
        }
        let read: Vec<_> = spool
            .next(10)
            .unwrap()
            .into_iter()
            .map(|e| e.read.unwrap())
            .collect();
        assert_eq!(read, pushes);
        assert_eq!(spool.next(2).unwrap().len(), 2);
        let status = spool.status().unwrap();
        assert_eq!(status.queued, 5);
        assert_eq!(status.oldest_spooled_at_ms, Some(pushes[0].spooled_at_ms));
        assert_eq!((status.rejected, status.corrupt), (0, 0));
        assert_eq!(status.last_error, None);
    }

    #[test]
    fn a_damaged_record_is_told_apart_from_a_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        spool.append(&push(1)).unwrap();
        let (_, path) = spool.files().unwrap().remove(0);
        let good = fs::read(&path).unwrap();
        assert!(parse_record(&good).is_ok());
        let mut flipped = good.clone();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        assert!(parse_record(&flipped).unwrap_err().contains("checksum"));
        let cut = &good[..good.len() - 3];
        assert!(parse_record(cut).unwrap_err().contains("cut short"));
        assert!(parse_record(b"hello\n{}")
            .unwrap_err()
            .contains("not a pushdetect"));
        assert!(parse_record(b"").unwrap_err().contains("no header"));
    }

    #[test]
    fn a_half_written_record_is_removed_at_open_and_later_records_sort_after() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path()).unwrap();
            spool.append(&push(1)).unwrap();
        }
        let stale = dir.path().join("queue").join("99999999999999999999.tmp");
        fs::write(&stale, "half").unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(!stale.exists());
        spool.append(&push(2)).unwrap();
        assert_eq!(queued_uuids(&spool), ["u1", "u2"]);
    }

    #[test]
    fn records_appended_after_a_reopen_follow_the_queue_whatever_the_clock_says() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path()).unwrap();
            spool.append(&push(1)).unwrap();
            // As if it had been spooled while the clock was far ahead.
            let (_, path) = spool.files().unwrap().remove(0);
            fs::rename(&path, path.with_file_name("90000000000000000000.push")).unwrap();
        }
        let spool = Spool::open(dir.path()).unwrap();
        spool.append(&push(2)).unwrap();
        spool.append(&push(3)).unwrap();
        assert_eq!(queued_uuids(&spool), ["u1", "u2", "u3"]);
    }

    #[test]
    fn a_spooled_push_is_the_batch_item_of_its_push() {
        let p = push(7);
        let item = p.item().unwrap();
        assert_eq!(item.kind, EventKind::Ioc);
        assert_eq!(item.key.as_ref().map(|k| k.as_str()), Some(p.key.as_str()));
        assert_eq!(
            item.params.pairs(),
            [("ioc_uuid".to_owned(), "u7".to_owned())]
        );
        let mut bad = p.clone();
        bad.method = "push_nothing".into();
        assert!(bad.item().unwrap_err().contains("'method'"));
    }

    #[test]
    fn only_one_result_per_item_in_order_answers_a_batch() {
        let ok = |i| ItemResult::accepted(i, false);
        assert!(one_per_item_in_order(&[ok(0), ok(1)], 2));
        assert!(!one_per_item_in_order(&[ok(0)], 2), "short");
        assert!(!one_per_item_in_order(&[ok(0), ok(1), ok(2)], 2), "long");
        assert!(!one_per_item_in_order(&[ok(1), ok(0)], 2), "out of order");
        assert!(!one_per_item_in_order(&[ok(0), ok(0)], 2), "an item twice");
    }

    #[test]
    fn keys_are_fresh_and_valid() {
        let (a, b) = (new_key(), new_key());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn errors_worth_a_later_attempt_are_told_apart() {
        assert!(spoolable(&ClientError::Communication("refused".into())));
        assert!(spoolable(&ClientError::Api {
            code: 3004,
            message: "x".into()
        }));
        assert!(!spoolable(&ClientError::Api {
            code: 2002,
            message: "x".into()
        }));
        assert!(too_large(&ClientError::Api {
            code: 2008,
            message: "the batch holds 9 items; at most 3 are accepted in one request".into()
        }));
        assert!(too_large(&ClientError::Communication(
            "HTTP 413 Payload Too Large from u".into()
        )));
        assert!(!too_large(&ClientError::Communication("refused".into())));
    }
}
