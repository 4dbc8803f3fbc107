//! The one error type of `lakemetrics-store`.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Everything that can go wrong when writing, reading or restoring checkpoints.
///
/// A damaged file is never a panic: it is [`Error::Corrupt`], naming the file and
/// the byte offset where the damage was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file-system operation failed.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`"create"`, `"fsync"`, `"rename"`, ...).
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A checkpoint file is damaged: torn, truncated, or its bytes changed.
    #[error("{}: corrupt at byte {offset}: {problem}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset in the file of the structure found damaged.
        offset: u64,
        /// What is wrong there.
        problem: Corruption,
    },
    /// The file is a checkpoint of a format version this build cannot read.
    #[error(
        "{}: checkpoint format version {version}; this build reads versions {} to {}",
        path.display(),
        crate::format::OLDEST_VERSION,
        crate::format::VERSION
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version the file declares.
        version: u16,
    },
    /// The checkpoint is sound but does not fit the registry it is restored into
    /// (a family registered with other options, a series that already exists, a
    /// cardinality limit). Nothing was restored.
    #[error("{}: cannot restore {family:?}: {source}", path.display())]
    Incompatible {
        /// The checkpoint file.
        path: PathBuf,
        /// The family that does not fit.
        family: String,
        /// Why, as the registry put it.
        #[source]
        source: Box<lakemetrics_core::Error>,
    },
    /// The registry refused a series after every check had passed (another
    /// thread created the same series meanwhile, or the registry-wide series
    /// limit, which a store cannot see, was reached). The series before it were
    /// restored.
    #[error(
        "{}: restore stopped after {restored} series at {family:?}: {source}",
        path.display()
    )]
    Interrupted {
        /// The checkpoint file.
        path: PathBuf,
        /// The family of the refused series.
        family: String,
        /// Series restored before the refusal.
        restored: usize,
        /// Why, as the registry put it.
        #[source]
        source: Box<lakemetrics_core::Error>,
    },
    /// The directory holds checkpoints, but none of them could be read.
    #[error("no usable checkpoint in {}: {}", dir.display(), SkippedList(skipped))]
    NoUsableCheckpoint {
        /// The store's directory.
        dir: PathBuf,
        /// Every checkpoint tried, newest first, with its error.
        skipped: Vec<Skipped>,
    },
    /// A file with a checkpoint's name is not a regular file (a symbolic link,
    /// a FIFO, a device, a directory): it is never opened for reading, never
    /// counted as a checkpoint and never removed.
    #[error("{}: not a regular file ({kind}); checkpoints are only read from regular files", path.display())]
    NotARegularFile {
        /// The file.
        path: PathBuf,
        /// What it is instead (`"symbolic link"`, `"FIFO"`, ...).
        kind: &'static str,
    },
    /// A checkpoint file is larger than the store reads
    /// ([`StoreBuilder::max_checkpoint_bytes`](crate::StoreBuilder::max_checkpoint_bytes)).
    #[error("{}: {bytes} bytes, more than the {limit} bytes a checkpoint may have", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// Reading a checkpoint took longer than the store allows
    /// ([`StoreBuilder::read_timeout`](crate::StoreBuilder::read_timeout)).
    #[error("{}: reading took more than {limit:?} ({read} bytes read)", path.display())]
    TimedOut {
        /// The file.
        path: PathBuf,
        /// The configured limit.
        limit: std::time::Duration,
        /// Bytes read when it ran out.
        read: u64,
    },
    /// A checkpoint's header names another sequence number than its file name
    /// (a file copied or renamed by hand): restoring it would restore another
    /// checkpoint than the name says, so it is refused.
    #[error(
        "{}: the file name says sequence number {name_seq}, its header {header_seq}",
        path.display()
    )]
    SequenceMismatch {
        /// The file.
        path: PathBuf,
        /// The sequence number in its name.
        name_seq: u64,
        /// The sequence number in its header.
        header_seq: u64,
    },
    /// The directory's newest checkpoint has the largest sequence number there
    /// is, so no newer one can be named. Nothing was written; move that file
    /// away (after checking what it is) to go on.
    #[error(
        "{}: sequence number {} leaves no room for a newer checkpoint",
        path.display(),
        u64::MAX
    )]
    SequenceExhausted {
        /// The checkpoint with the last sequence number.
        path: PathBuf,
    },
    /// The store was opened read-only ([`Store::open_read_only`](crate::Store::open_read_only)).
    #[error("{}: the store was opened read-only", dir.display())]
    ReadOnly {
        /// The store's directory.
        dir: PathBuf,
    },
    /// A store or checkpointer option is out of range.
    #[error("invalid {what}: {reason}")]
    InvalidConfig {
        /// The option.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

/// What is wrong with a damaged checkpoint, at the offset [`Error::Corrupt`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The file does not start with the checkpoint magic bytes.
    BadMagic,
    /// The file ends inside a structure that needs `needed` bytes from the offset.
    Truncated {
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes the file has from the offset.
        available: u64,
    },
    /// A header, block or trailer does not match its CRC-32.
    ChecksumMismatch {
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the bytes as read.
        computed: u32,
    },
    /// The file ends without a trailer (a torn write).
    MissingTrailer,
    /// Bytes follow the trailer.
    TrailingBytes {
        /// How many.
        len: u64,
    },
    /// A block of a type this version does not define.
    UnknownBlock {
        /// The block type byte.
        kind: u8,
    },
    /// A structural rule of the format is broken.
    Malformed {
        /// Which rule.
        what: &'static str,
    },
    /// A count disagrees with the structure it describes.
    CountMismatch {
        /// What is counted.
        what: &'static str,
        /// The count the structure implies.
        expected: u64,
        /// The count found.
        found: u64,
    },
    /// A compressed column does not decode.
    Column {
        /// The column.
        column: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// A saved family or series that the metrics core rejects.
    Invalid {
        /// What was rejected.
        what: &'static str,
        /// The core's complaint.
        detail: String,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::BadMagic => f.write_str("not a lakemetrics checkpoint (bad magic bytes)"),
            Corruption::Truncated { needed, available } => write!(
                f,
                "truncated: {needed} bytes needed, {available} left in the file"
            ),
            Corruption::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ),
            Corruption::MissingTrailer => f.write_str("no trailer: the write did not finish"),
            Corruption::TrailingBytes { len } => write!(f, "{len} bytes after the trailer"),
            Corruption::UnknownBlock { kind } => write!(f, "unknown block type {kind}"),
            Corruption::Malformed { what } => write!(f, "malformed: {what}"),
            Corruption::CountMismatch {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
            Corruption::Column { column, detail } => {
                write!(f, "column {column:?} does not decode: {detail}")
            }
            Corruption::Invalid { what, detail } => write!(f, "invalid {what}: {detail}"),
        }
    }
}

/// A checkpoint that restore passed over, and why.
#[derive(Debug)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it could not be used.
    pub error: Error,
}

struct SkippedList<'a>(&'a [Skipped]);

impl fmt::Display for SkippedList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} skipped", self.0.len())?;
        for s in self.0 {
            write!(f, "; {}", s.error)?;
        }
        Ok(())
    }
}

/// `Result` with the store [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: path.into(),
            op,
            source,
        }
    }

    /// The byte offset of the damage, for [`Error::Corrupt`].
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Corrupt { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
