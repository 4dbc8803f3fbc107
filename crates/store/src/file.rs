//! Opening and reading checkpoint files without trusting the directory: a name
//! that looks like a checkpoint may be a symbolic link (to `/dev/zero`, say), a
//! FIFO that would block forever, a huge file, or a copy of another checkpoint.
//! Only regular files are opened (checked before opening, and again on the open
//! file), the header is checked before the rest is read, the read stops at the
//! size the file had when opened, within a maximum and a deadline.

use std::fs::{File, FileType, OpenOptions};
use std::io::{self, Read};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::checkpoint::{decode_header, Checkpoint, Header};
use crate::error::{Error, Result};
use crate::format::HEADER_LEN;

/// Largest checkpoint file a store reads by default: 1 GiB, some 12 million
/// series with full history at the 87 bytes a series that `docs/benchmarks.md`
/// measures (8.7 MB for 100,000).
pub const DEFAULT_MAX_CHECKPOINT_BYTES: u64 = 1 << 30;
/// Longest a store spends reading one checkpoint file by default.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Bytes read at a time, between looks at the deadline.
const CHUNK: usize = 1 << 20;

/// How much of a file, and for how long, a reader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub max_bytes: u64,
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_CHECKPOINT_BYTES,
            timeout: DEFAULT_READ_TIMEOUT,
        }
    }
}

/// What a file is, for [`Error::NotARegularFile`].
pub(crate) fn kind_of(t: &FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_symlink() {
        "symbolic link"
    } else if t.is_dir() {
        "directory"
    } else {
        "not a regular file"
    }
}

/// Opens `path` for reading if it is a regular file, and returns it with its
/// size. The type is checked without following a link before opening, and on
/// the open file after (in case the name was swapped in between); the open
/// itself does not follow a final symbolic link and does not wait for a FIFO's
/// writer.
pub(crate) fn open_regular(path: &Path) -> Result<(File, u64)> {
    let not_regular = |t: &FileType| Error::NotARegularFile {
        path: path.to_path_buf(),
        kind: kind_of(t),
    };
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, "stat", e))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) => {
            // ELOOP: the name became a symbolic link since the check above.
            if let Ok(m) = std::fs::symlink_metadata(path) {
                if !m.file_type().is_file() {
                    return Err(not_regular(&m.file_type()));
                }
            }
            return Err(Error::io(path, "open", e));
        }
    };
    let meta = file.metadata().map_err(|e| Error::io(path, "stat", e))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    Ok((file, meta.len()))
}

/// Reads just the header of the checkpoint at `path` (a regular file, checked
/// as [`open_regular`] does).
pub(crate) fn read_header(path: &Path) -> Result<Header> {
    let (file, len) = open_regular(path)?;
    let mut head = Vec::with_capacity(HEADER_LEN);
    let want = len.min(HEADER_LEN as u64);
    file.take(want)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, "read", e))?;
    decode_header(&head, true).map_err(|b| b.at(path))
}

/// Reads, decodes and verifies the checkpoint at `path` within `limits`. If the
/// file is named `checkpoint-<seq>.lmc`, its header must hold that `seq`.
pub(crate) fn read(path: &Path, limits: &Limits) -> Result<Checkpoint> {
    let started = Instant::now();
    let (file, len) = open_regular(path)?;
    if len > limits.max_bytes {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            bytes: len,
            limit: limits.max_bytes,
        });
    }
    let capacity = usize::try_from(len).map_err(|_| Error::TooLarge {
        path: path.to_path_buf(),
        bytes: len,
        limit: usize::MAX as u64,
    })?;
    // Never more than the size at open, even if the file grows meanwhile.
    let mut file = file.take(len);
    let mut bytes = Vec::with_capacity(capacity.min(HEADER_LEN));
    let head = len.min(HEADER_LEN as u64);
    (&mut file)
        .take(head)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "read", e))?;
    // A file that is not a checkpoint is refused before the rest is read.
    let header = decode_header(&bytes, true).map_err(|b| b.at(path))?;
    let name = path.file_name().and_then(|n| n.to_str());
    if let Some(name_seq) = name.and_then(crate::store::parse_name) {
        if name_seq != header.seq {
            return Err(Error::SequenceMismatch {
                path: path.to_path_buf(),
                name_seq,
                header_seq: header.seq,
            });
        }
    }
    bytes.reserve_exact(capacity - bytes.len());
    let mut chunk = vec![0u8; CHUNK.min(capacity)];
    loop {
        if started.elapsed() > limits.timeout {
            return Err(Error::TimedOut {
                path: path.to_path_buf(),
                limit: limits.timeout,
                read: bytes.len() as u64,
            });
        }
        match file.read(&mut chunk) {
            // The end, or the file shrank: decoding reports what is missing.
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, "read", e)),
        }
    }
    Checkpoint::decode(&bytes, path)
}
