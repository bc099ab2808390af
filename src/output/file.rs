//! NDJSON file output: appended, flushed per document, and never left with a
//! torn last line: on open, an unterminated tail (a crash mid-write) is cut
//! back to the last complete document.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Output, OutputError};

/// An NDJSON file.
#[derive(Debug)]
pub struct FileOutput {
    path: PathBuf,
    file: File,
}

impl FileOutput {
    /// Opens (creating) `path` for appending, after cutting a torn tail.
    ///
    /// # Errors
    /// When the file cannot be opened or repaired.
    pub fn open(path: &Path) -> Result<FileOutput, OutputError> {
        let err = |source| OutputError::Open {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(err)?;
        let removed = cut_torn_tail(&mut file).map_err(err)?;
        if removed > 0 {
            tracing::warn!(path = %path.display(), bytes = removed, "cut an unterminated last line left by an earlier crash");
        }
        file.seek(SeekFrom::End(0)).map_err(err)?;
        Ok(FileOutput {
            path: path.to_path_buf(),
            file,
        })
    }
}

/// Truncates `file` after its last `\n`; returns how many bytes were removed.
fn cut_torn_tail(file: &mut File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    const STEP: u64 = 64 * 1024;
    let mut end = len;
    let mut buf = vec![0u8; STEP as usize];
    while end > 0 {
        let start = end.saturating_sub(STEP);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(len - keep);
        }
        end = start;
    }
    file.set_len(0)?;
    Ok(len)
}

impl Output for FileOutput {
    fn send(&mut self, line: &str) -> Result<(), OutputError> {
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| OutputError::Write {
                target: self.path.display().to_string(),
                source,
            })
    }

    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(initial: &[u8], expected: &[u8]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.ndjson");
        std::fs::write(&path, initial).unwrap();
        let mut out = FileOutput::open(&path).unwrap();
        out.send("{\"b\":2}\n").unwrap();
        let mut want = expected.to_vec();
        want.extend_from_slice(b"{\"b\":2}\n");
        assert_eq!(std::fs::read(&path).unwrap(), want);
    }

    #[test]
    fn torn_tail_is_cut_on_open() {
        check(b"", b"");
        check(b"{\"a\":1}\n", b"{\"a\":1}\n");
        check(b"{\"a\":1}\n{\"a\":", b"{\"a\":1}\n");
        check(b"{\"a\":", b"");
    }
}
