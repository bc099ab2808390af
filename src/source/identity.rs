//! File identity: which file incarnation a handle or a path refers to.
//!
//! Owns the operating-system view of a file (device + inode on Unix, volume
//! serial + file index on Windows, read through the open handle), the
//! content fingerprints that tell incarnations apart (a hash of the file's
//! head, a hash of the bytes just before a read position), the derivation of
//! [`FileKey`], and opening files without ever blocking the writer.
//!
//! Does not decide anything: [`crate::source::Tailer`] compares identities
//! and fingerprints to recognise rotations, truncations and copies.
//!
//! **Architecture invariant:** identity never uses a creation time, a path
//! alone or the first line alone. Two files that start with the same header
//! line have different handles; one file truncated and rewritten with the same
//! header gets a new key because its predecessor's key is mixed into it.

use std::fs::File;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::event::FileKey;

/// How many bytes of a file's head its fingerprint covers (fewer while the
/// file is shorter).
pub const HEAD_BYTES: usize = 512;

/// How many bytes before a read position the position's fingerprint covers.
pub const TAIL_BYTES: usize = 64;

/// The operating system's identity of a file: stable while the file exists,
/// across renames, and across agent restarts.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct FileId {
    /// Device (Unix `st_dev`) or volume serial number (Windows).
    pub device: u64,
    /// Inode (Unix `st_ino`) or file index (Windows).
    pub index: u64,
}

/// What one `stat` tells about a file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// The file's identity.
    pub id: FileId,
    /// Its size in bytes.
    pub len: u64,
    /// Its last modification time, when the platform reports one.
    pub modified: Option<SystemTime>,
    /// Number of names the file has; 0 once it has been deleted while open.
    pub links: u64,
    /// True for a regular file.
    pub is_file: bool,
}

/// Opens `path` for reading with full sharing, so that the writer can keep
/// appending, renaming and deleting while the file is open here.
///
/// # Errors
/// As [`std::fs::OpenOptions::open`].
pub fn open_shared(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        // FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE: without
        // DELETE the SMS writer could not rename the log to `.lo_`.
        options.share_mode(0x1 | 0x2 | 0x4);
    }
    options.open(path)
}

/// Identity, size and link count of an open file.
///
/// # Errors
/// When the platform cannot stat the handle.
pub fn stat_handle(file: &File) -> io::Result<Stat> {
    #[cfg(windows)]
    {
        let info = winapi_util::file::information(file)?;
        let meta = file.metadata()?;
        Ok(Stat {
            id: FileId {
                device: info.volume_serial_number(),
                index: info.file_index(),
            },
            len: info.file_size(),
            modified: meta.modified().ok(),
            links: info.number_of_links(),
            is_file: meta.is_file(),
        })
    }
    #[cfg(not(windows))]
    {
        stat_metadata(&file.metadata()?)
    }
}

/// Identity and size of the file at `path` (following symbolic links).
///
/// # Errors
/// When the path does not exist or cannot be stat'ed (on Windows: opened).
pub fn stat_path(path: &Path) -> io::Result<Stat> {
    #[cfg(windows)]
    {
        // Windows reports the file index only through a handle.
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Ok(Stat {
                id: FileId::default(),
                len: meta.len(),
                modified: meta.modified().ok(),
                links: 1,
                is_file: false,
            });
        }
        stat_handle(&open_shared(path)?)
    }
    #[cfg(not(windows))]
    {
        stat_metadata(&std::fs::metadata(path)?)
    }
}

#[cfg(unix)]
fn stat_metadata(meta: &std::fs::Metadata) -> io::Result<Stat> {
    use std::os::unix::fs::MetadataExt;
    Ok(Stat {
        id: FileId {
            device: meta.dev(),
            index: meta.ino(),
        },
        len: meta.len(),
        modified: meta.modified().ok(),
        links: meta.nlink(),
        is_file: meta.is_file(),
    })
}

#[cfg(not(any(unix, windows)))]
fn stat_metadata(meta: &std::fs::Metadata) -> io::Result<Stat> {
    // No file identity on this platform: fall back to size 0 identity, which
    // makes every file distinct only by content fingerprint.
    Ok(Stat {
        id: FileId::default(),
        len: meta.len(),
        modified: meta.modified().ok(),
        links: 1,
        is_file: meta.is_file(),
    })
}

/// Reads into `buf` from byte `offset` without moving any shared cursor,
/// until `buf` is full or the file ends. Returns the number of bytes read.
///
/// # Errors
/// As the platform's positional read.
pub fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        let pos = offset.saturating_add(done as u64);
        let n = match read_at_once(file, &mut buf[done..], pos) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        done += n;
    }
    Ok(done)
}

#[cfg(unix)]
fn read_at_once(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at_once(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // `seek_read` moves the handle's cursor, which nothing here relies on.
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(not(any(unix, windows)))]
fn read_at_once(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(offset))?;
    f.read(buf)
}

/// A hash of a byte range of a file: its head, or the bytes just before a
/// read position.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// How many bytes the hash covers.
    pub len: u32,
    /// xxh3 of those bytes.
    pub hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint {
            len: bytes.len() as u32,
            hash: xxh3_64(bytes),
        }
    }

    /// The fingerprint of the file's first `min(size, HEAD_BYTES)` bytes.
    ///
    /// # Errors
    /// As [`read_at`].
    pub fn head(file: &File) -> io::Result<Fingerprint> {
        let mut buf = [0u8; HEAD_BYTES];
        let n = read_at(file, &mut buf, 0)?;
        Ok(Fingerprint::of(&buf[..n]))
    }

    /// The fingerprint of the (up to [`TAIL_BYTES`]) bytes just before `end`.
    /// `None` when the file is shorter than `end`.
    ///
    /// # Errors
    /// As [`read_at`].
    pub fn before(file: &File, end: u64) -> io::Result<Option<Fingerprint>> {
        let len = end.min(TAIL_BYTES as u64) as usize;
        let mut buf = [0u8; TAIL_BYTES];
        let n = read_at(file, &mut buf[..len], end - len as u64)?;
        Ok((n == len).then(|| Fingerprint::of(&buf[..len])))
    }

    /// True when the file's first `self.len` bytes still hash to `self`.
    ///
    /// # Errors
    /// As [`read_at`].
    pub fn matches_head(&self, file: &File) -> io::Result<bool> {
        let mut buf = [0u8; HEAD_BYTES];
        let want = (self.len as usize).min(HEAD_BYTES);
        let n = read_at(file, &mut buf[..want], 0)?;
        Ok(n == want && Fingerprint::of(&buf[..n]) == *self)
    }

    /// True when the bytes before `end` still hash to `self`.
    ///
    /// # Errors
    /// As [`read_at`].
    pub fn matches_before(&self, file: &File, end: u64) -> io::Result<bool> {
        Ok(Fingerprint::before(file, end)? == Some(*self))
    }
}

/// True when the first `len` bytes of `copy` look like those of
/// `original`: the first [`HEAD_BYTES`] and the [`TAIL_BYTES`] before `len`
/// are the same bytes (a copy still being written, compared with the file
/// it is copied from). False on any read error or short read.
pub fn same_start(original: &File, copy: &File, len: u64) -> bool {
    let mut a = [0u8; HEAD_BYTES];
    let mut b = [0u8; HEAD_BYTES];
    let head = len.min(HEAD_BYTES as u64) as usize;
    let tail = len.min(TAIL_BYTES as u64) as usize;
    let from = len - tail as u64;
    let same = |a: &mut [u8], b: &mut [u8], at: u64| {
        matches!(
            (read_at(original, a, at), read_at(copy, b, at)),
            (Ok(x), Ok(y)) if x == a.len() && y == b.len() && a == b
        )
    };
    same(&mut a[..head], &mut b[..head], 0) && same(&mut a[..tail], &mut b[..tail], from)
}

/// Derives the [`FileKey`] of a file incarnation from its handle identity and
/// the start of its content: `first` is the file's first line including its
/// newline, capped (see [`key_prefix_len`]).
///
/// The same file incarnation therefore gets the same key after a restart or a
/// crash, and `event.id`s derived from it repeat. `previous` is the key of the
/// incarnation this one follows on the same handle identity (a truncation, or
/// a deleted file's inode reused at the same path): it is mixed in, so a file
/// rewritten with the same header line still gets a new key.
pub fn derive_key(id: FileId, first: &[u8], previous: Option<FileKey>) -> FileKey {
    let mut buf = Vec::with_capacity(24 + first.len());
    buf.extend_from_slice(&id.device.to_le_bytes());
    buf.extend_from_slice(&id.index.to_le_bytes());
    if let Some(prev) = previous {
        buf.extend_from_slice(&prev.0.to_le_bytes());
    }
    buf.extend_from_slice(first);
    // 0 means "no key yet" in checkpoints.
    FileKey(xxh3_64(&buf).max(1))
}

/// How many bytes of `head` (the file's first bytes) make up the key prefix:
/// up to and including the first newline, at most `cap` bytes. `None` while
/// the first line is still incomplete and shorter than `cap` (no record can
/// have been handed out yet, so no key is needed).
pub fn key_prefix_len(head: &[u8], cap: usize) -> Option<usize> {
    let cap = cap.clamp(1, HEAD_BYTES);
    let window = &head[..head.len().min(cap)];
    match memchr::memchr(b'\n', window) {
        Some(i) => Some(i + 1),
        None if window.len() == cap => Some(cap),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn check(head: &[u8], cap: usize, want: Option<usize>) {
        assert_eq!(key_prefix_len(head, cap), want, "{head:?} cap {cap}");
    }

    #[test]
    fn key_prefix() {
        check(b"", 512, None);
        check(b"abc", 512, None);
        check(b"abc\n", 512, Some(4));
        check(b"abc\ndef\n", 512, Some(4));
        check(b"abcdef", 4, Some(4));
        check(b"ab\ncdef", 4, Some(3));
    }

    #[test]
    fn keys_differ_by_handle_and_chain_on_collision() {
        let a = FileId {
            device: 1,
            index: 2,
        };
        let b = FileId {
            device: 1,
            index: 3,
        };
        let ka = derive_key(a, b"header\n", None);
        assert_eq!(ka, derive_key(a, b"header\n", None));
        assert_ne!(ka, derive_key(b, b"header\n", None));
        let next = derive_key(a, b"header\n", Some(ka));
        assert_ne!(next, ka);
        assert_eq!(next, derive_key(a, b"header\n", Some(ka)));
        let third = derive_key(a, b"header\n", Some(next));
        assert!(third != ka && third != next);
    }

    #[test]
    fn identity_follows_the_handle_across_rename() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.log");
        let mut w = File::create(&p).unwrap();
        w.write_all(b"hello\nworld\n").unwrap();
        let r = open_shared(&p).unwrap();
        let before = stat_handle(&r).unwrap();
        assert_eq!(stat_path(&p).unwrap().id, before.id);
        let q = dir.path().join("a.lo_");
        std::fs::rename(&p, &q).unwrap();
        assert_eq!(stat_handle(&r).unwrap().id, before.id);
        assert_eq!(stat_path(&q).unwrap().id, before.id);
        let head = Fingerprint::head(&r).unwrap();
        assert_eq!(head.len, 12);
        assert!(head.matches_head(&r).unwrap());
        let tail = Fingerprint::before(&r, 6).unwrap().unwrap();
        assert!(tail.matches_before(&r, 6).unwrap());
        assert!(!tail.matches_before(&r, 12).unwrap());
        assert_eq!(Fingerprint::before(&r, 13).unwrap(), None);
    }
}
