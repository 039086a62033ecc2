//! What was analysed: hashes, size, content-based mime type and file name.

use md5::Md5;
use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The analysis subject of a file, as the Analyst API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSubject {
    /// MD5, lower-case hex.
    pub md5: String,
    /// SHA-1, lower-case hex.
    pub sha1: String,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Mime type from the content (not the name).
    pub mime_type: String,
    /// The submitted file name, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

/// The three hashes of some content, computed in one pass.
#[derive(Debug, Default, Clone)]
pub struct Hasher {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    size: u64,
}

impl Hasher {
    /// Feeds more content.
    pub fn update(&mut self, chunk: &[u8]) {
        self.md5.update(chunk);
        self.sha1.update(chunk);
        self.sha256.update(chunk);
        self.size += chunk.len() as u64;
    }

    /// The hex digests (md5, sha1, sha256) and the size.
    pub fn finish(self) -> (String, String, String, u64) {
        (
            hex::encode(self.md5.finalize()),
            hex::encode(self.sha1.finalize()),
            hex::encode(self.sha256.finalize()),
            self.size,
        )
    }
}

/// The mime type of content, from its leading bytes; text falls back to text/plain and
/// anything unrecognised to application/octet-stream.
pub fn mime_type(content: &[u8]) -> String {
    if let Some(kind) = infer::get(content) {
        return kind.mime_type().to_owned();
    }
    let head = &content[..content.len().min(4096)];
    let texty = !head.is_empty()
        && std::str::from_utf8(head).is_ok()
        && head
            .iter()
            .all(|b| *b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c));
    if texty {
        "text/plain".to_owned()
    } else {
        "application/octet-stream".to_owned()
    }
}

impl FileSubject {
    /// Describes content held in memory.
    pub fn of(content: &[u8], filename: Option<&str>) -> FileSubject {
        let mut h = Hasher::default();
        h.update(content);
        let (md5, sha1, sha256, size) = h.finish();
        FileSubject {
            md5,
            sha1,
            sha256,
            size,
            mime_type: mime_type(content),
            filename: filename.map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_of_known_content() {
        let s = FileSubject::of(b"abc", Some("a.txt"));
        assert_eq!(s.md5, "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(s.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            s.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(s.size, 3);
        assert_eq!(s.mime_type, "text/plain");
    }

    #[test]
    fn mime_types_come_from_content() {
        assert_eq!(
            mime_type(b"MZ\x90\x00\x03\x00\x00\x00"),
            "application/vnd.microsoft.portable-executable"
        );
        assert_eq!(mime_type(b"PK\x03\x04\x14\x00"), "application/zip");
        assert_eq!(
            mime_type(&[0xff, 0x00, 0x13, 0x80]),
            "application/octet-stream"
        );
    }
}
