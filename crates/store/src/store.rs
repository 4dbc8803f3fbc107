//! A directory of checkpoints: crash-safe writes, pruning, and restore with
//! fallback to the newest checkpoint that reads back whole.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lakemetrics_core::{Filter, MetricKind, Registry, OVERFLOW_LABEL};

use crate::checkpoint::{self, kind_index, Checkpoint, HistoryStats};
use crate::error::{Error, Result, Skipped};

const PREFIX: &str = "checkpoint-";
const SUFFIX: &str = ".lmc";
const TMP_SUFFIX: &str = ".lmc.tmp";

/// Checkpoints kept by default.
pub const DEFAULT_KEEP: usize = 3;
/// pco's compression level used by default (its own default; 0 to 12).
pub const DEFAULT_COMPRESSION_LEVEL: usize = 8;

/// A directory of checkpoints of one registry.
///
/// [`Store::checkpoint`] writes `checkpoint-<seq>.lmc` crash-safely (a temporary
/// file in the same directory, fsync, rename, fsync of the directory) and keeps
/// the newest few; [`Store::restore`] loads the newest one that reads back whole
/// into a registry, all or nothing. One process at a time may write a directory.
///
/// Cheap to clone (an `Arc`); clones share the sequence counter.
///
/// ```
/// use lakemetrics_core::Registry;
/// use lakemetrics_store::Store;
/// # let dir = std::env::temp_dir().join(format!("lmc-doc-store-{}", std::process::id()));
/// let store = Store::builder(&dir).keep(2).open().unwrap();
/// let reg = Registry::new();
/// reg.counter("rows", &[("handler", "csv")]).unwrap().inc_by(7);
/// let info = store.checkpoint(&reg).unwrap();
/// assert_eq!(info.series, 1);
///
/// let after_restart = Registry::new();
/// let report = store.restore(&after_restart).unwrap();
/// assert_eq!(report.restored.unwrap().seq, info.seq);
/// assert_eq!(after_restart.counter("rows", &[("handler", "csv")]).unwrap().get(), 7);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    keep: usize,
    level: usize,
    /// The next checkpoint's sequence number; held while one is written, so
    /// writes through clones of a store take turns.
    next_seq: Mutex<u64>,
}

/// Options of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreBuilder {
    dir: PathBuf,
    keep: usize,
    level: usize,
}

impl StoreBuilder {
    /// How many checkpoints to keep (at least 1; [`DEFAULT_KEEP`] by default).
    /// Restore falls back through them when newer ones are damaged.
    pub fn keep(mut self, n: usize) -> Self {
        self.keep = n;
        self
    }

    /// pco's compression level, 0 (fastest) to 12 (smallest);
    /// [`DEFAULT_COMPRESSION_LEVEL`] by default.
    pub fn compression_level(mut self, level: usize) -> Self {
        self.level = level;
        self
    }

    /// Opens the store, creating the directory if needed. Leftover temporary
    /// files of checkpoints a crash interrupted are removed.
    pub fn open(self) -> Result<Store> {
        if self.keep == 0 {
            return Err(Error::InvalidConfig {
                what: "keep",
                reason: "a store must keep at least one checkpoint".into(),
            });
        }
        if self.level > 12 {
            return Err(Error::InvalidConfig {
                what: "compression level",
                reason: format!("{} is not in 0..=12", self.level),
            });
        }
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, "create directory", e))?;
        let mut newest = 0;
        for entry in read_dir(&self.dir)? {
            if let Some(seq) = parse_name(&entry) {
                newest = newest.max(seq);
            } else if is_temp(&entry) {
                let path = self.dir.join(&entry);
                fs::remove_file(&path).map_err(|e| Error::io(&path, "remove temporary file", e))?;
            }
        }
        Ok(Store {
            inner: Arc::new(Inner {
                dir: self.dir,
                keep: self.keep,
                level: self.level,
                next_seq: Mutex::new(newest + 1),
            }),
        })
    }
}

/// A checkpoint file in a store's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFile {
    /// Its sequence number (from its name).
    pub seq: u64,
    /// Its path.
    pub path: PathBuf,
}

/// What [`Store::checkpoint`] wrote.
#[derive(Debug, Clone)]
pub struct CheckpointInfo {
    /// The file written.
    pub path: PathBuf,
    /// Its sequence number.
    pub seq: u64,
    /// When the registry was read (its clock, ns since the Unix epoch).
    pub taken_at_nanos: u64,
    /// Size of the file.
    pub bytes: u64,
    /// Families saved.
    pub families: u64,
    /// Series saved.
    pub series: u64,
    /// History points saved (retained epochs over all series).
    pub points: u64,
    /// Older checkpoints removed to keep the configured number.
    pub removed: usize,
    /// Time taken, from reading the registry to the directory's fsync.
    pub elapsed: Duration,
    history: [HistoryStats; 4],
}

impl CheckpointInfo {
    /// Stored history of one kind of metric.
    pub fn history(&self, kind: MetricKind) -> HistoryStats {
        self.history[kind_index(kind)]
    }

    /// Stored history of every kind together.
    pub fn history_total(&self) -> HistoryStats {
        let mut t = HistoryStats::default();
        for h in &self.history {
            t.series += h.series;
            t.points += h.points;
            t.values += h.values;
            t.bytes += h.bytes;
        }
        t
    }
}

/// What [`Store::restore`] did.
#[derive(Debug, Default)]
pub struct RestoreReport {
    /// The checkpoint restored; `None` when the directory held none.
    pub restored: Option<Restored>,
    /// Newer checkpoints passed over because they could not be read, newest
    /// first, each with its error.
    pub skipped: Vec<Skipped>,
}

/// The checkpoint a restore loaded.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The file.
    pub path: PathBuf,
    /// Its sequence number.
    pub seq: u64,
    /// When it was taken (ns since the Unix epoch).
    pub taken_at_nanos: u64,
    /// Families restored.
    pub families: usize,
    /// Series restored.
    pub series: usize,
    /// Series whose history was restored too (their family's ring shape is
    /// the one they were saved with).
    pub series_with_history: usize,
    /// History points in the checkpoint.
    pub points: u64,
    /// Time taken, from reading the file to the last series restored.
    pub elapsed: Duration,
}

/// The newest checkpoint that reads back whole, and the newer ones that did not.
#[derive(Debug)]
pub struct Loaded {
    /// The file and what it holds; `None` if no checkpoint reads back.
    pub checkpoint: Option<(PathBuf, Checkpoint)>,
    /// Newer checkpoints that could not be read, newest first.
    pub skipped: Vec<Skipped>,
}

impl Store {
    /// Opens the store in `dir` with the default options (see [`StoreBuilder::open`]).
    pub fn open(dir: impl Into<PathBuf>) -> Result<Store> {
        Store::builder(dir).open()
    }

    /// A builder for other options.
    pub fn builder(dir: impl Into<PathBuf>) -> StoreBuilder {
        StoreBuilder {
            dir: dir.into(),
            keep: DEFAULT_KEEP,
            level: DEFAULT_COMPRESSION_LEVEL,
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The checkpoint files in the directory, newest first.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointFile>> {
        let mut files: Vec<CheckpointFile> = read_dir(&self.inner.dir)?
            .into_iter()
            .filter_map(|name| {
                parse_name(&name).map(|seq| CheckpointFile {
                    seq,
                    path: self.inner.dir.join(name),
                })
            })
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.seq));
        Ok(files)
    }

    /// Writes a checkpoint of every family and series of `reg` (idle ones
    /// included), then removes the oldest checkpoints past the number to keep.
    ///
    /// The file appears under its final name only once it is complete and on
    /// disk: a crash at any point leaves the previous checkpoints as they were.
    /// Recording into the registry goes on meanwhile; creating a new series
    /// waits while its family is being written.
    ///
    /// An error after the file was renamed into place (the directory's fsync,
    /// removing old checkpoints) leaves the new checkpoint in the directory.
    pub fn checkpoint(&self, reg: &Registry) -> Result<CheckpointInfo> {
        let started = Instant::now();
        let inner = &*self.inner;
        let mut next = inner
            .next_seq
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let seq = *next;
        let path = inner.dir.join(file_name(seq));
        let tmp = inner.dir.join(format!("{PREFIX}{seq:020}{TMP_SUFFIX}"));
        let written = match write_file(reg, seq, inner.level, &tmp) {
            Ok(w) => w,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if let Err(e) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(&path, "rename", e));
        }
        *next = seq + 1;
        sync_dir(&inner.dir)?;
        let removed = self.prune()?;
        Ok(CheckpointInfo {
            path,
            seq,
            taken_at_nanos: written.taken_at,
            bytes: written.bytes,
            families: u64::from(written.totals.families),
            series: written.totals.series,
            points: written.totals.points,
            removed,
            elapsed: started.elapsed(),
            history: written.history,
        })
    }

    /// Removes all but the newest `keep` checkpoints; returns how many it removed.
    fn prune(&self) -> Result<usize> {
        let files = self.checkpoints()?;
        let mut removed = 0;
        for f in files.iter().skip(self.inner.keep) {
            fs::remove_file(&f.path).map_err(|e| Error::io(&f.path, "remove old checkpoint", e))?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.inner.dir)?;
        }
        Ok(removed)
    }

    /// Reads the newest checkpoint that decodes and verifies whole, passing over
    /// damaged newer ones (reported with their errors).
    pub fn load_newest(&self) -> Result<Loaded> {
        let mut skipped = Vec::new();
        for f in self.checkpoints()? {
            match Checkpoint::read(&f.path) {
                Ok(c) => {
                    return Ok(Loaded {
                        checkpoint: Some((f.path, c)),
                        skipped,
                    })
                }
                Err(error) => skipped.push(Skipped {
                    path: f.path,
                    error,
                }),
            }
        }
        Ok(Loaded {
            checkpoint: None,
            skipped,
        })
    }

    /// Restores the newest good checkpoint into `reg`: registers its families,
    /// then restores every series (cumulative values always; history when the
    /// family's ring shape is unchanged).
    ///
    /// All or nothing: the whole file is decoded and verified first (checksums,
    /// structure, every family and series against the core's rules), then every
    /// series is checked against `reg` (no such series yet, family limits), and
    /// only then is anything restored. A damaged checkpoint is passed over for
    /// the next older one and reported in [`RestoreReport::skipped`]; an empty
    /// directory restores nothing and is not an error; a directory whose every
    /// checkpoint is damaged is [`Error::NoUsableCheckpoint`].
    ///
    /// Restore into a registry before recording into it. Families registered
    /// beforehand must have the options they were saved with (help, unit,
    /// buckets, retention, ...), or the restore is refused with
    /// [`Error::Incompatible`]; families are registered before the series are
    /// checked, so a refused restore may leave some of them registered (empty).
    pub fn restore(&self, reg: &Registry) -> Result<RestoreReport> {
        let started = Instant::now();
        let loaded = self.load_newest()?;
        let Some((path, cp)) = loaded.checkpoint else {
            if loaded.skipped.is_empty() {
                return Ok(RestoreReport::default());
            }
            return Err(Error::NoUsableCheckpoint {
                dir: self.inner.dir.clone(),
                skipped: loaded.skipped,
            });
        };
        let mut restored = apply(reg, &cp, &path)?;
        restored.elapsed = started.elapsed();
        Ok(RestoreReport {
            restored: Some(restored),
            skipped: loaded.skipped,
        })
    }
}

fn write_file(reg: &Registry, seq: u64, level: usize, tmp: &Path) -> Result<checkpoint::Written> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(|e| Error::io(tmp, "create", e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let written =
        checkpoint::write(reg, seq, level, &mut w).map_err(|e| Error::io(tmp, "write", e))?;
    let file = w
        .into_inner()
        .map_err(|e| Error::io(tmp, "write", e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(tmp, "fsync", e))?;
    Ok(written)
}

fn is_overflow(labels: &[(String, String)]) -> bool {
    matches!(labels, [(k, v)] if k == OVERFLOW_LABEL && v == "true")
}

/// Restores a verified checkpoint into `reg`: every check first, then the series.
fn apply(reg: &Registry, cp: &Checkpoint, path: &Path) -> Result<Restored> {
    let incompatible = |family: &str, source| Error::Incompatible {
        path: path.to_path_buf(),
        family: family.to_string(),
        source: Box::new(source),
    };
    for f in &cp.families {
        reg.register(f.describe())
            .map_err(|e| incompatible(&f.name, e))?;
    }
    // Family limits: series the registry already holds count too.
    let mut existing: HashMap<String, usize> = HashMap::new();
    reg.visit(&Filter::all().include_idle(true), |fam| {
        let n = fam
            .series()
            .filter(|s| !s.labels().eq([(OVERFLOW_LABEL, "true")]))
            .count();
        existing.insert(fam.name().to_string(), n);
    });
    let mut labels: Vec<Vec<(&str, &str)>> = Vec::with_capacity(cp.series_count());
    for f in &cp.families {
        let adding = f.series.iter().filter(|s| !is_overflow(&s.labels)).count();
        if existing.get(&f.name).copied().unwrap_or(0) + adding > f.max_series {
            return Err(incompatible(
                &f.name,
                lakemetrics_core::Error::CardinalityLimit {
                    name: f.name.as_str().into(),
                    limit: f.max_series,
                    scope: "family",
                },
            ));
        }
        for s in &f.series {
            let l: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            reg.check_restore(&f.name, &l, &s.state)
                .map_err(|e| incompatible(&f.name, e))?;
            labels.push(l);
        }
    }
    let mut labels = labels.into_iter();
    let (mut series, mut with_history) = (0, 0);
    for f in &cp.families {
        for (s, l) in f.series.iter().zip(labels.by_ref()) {
            match reg.restore_series(&f.name, &l, &s.state, f.geometry) {
                Ok(history) => {
                    series += 1;
                    with_history += usize::from(history);
                }
                Err(source) => {
                    return Err(Error::Interrupted {
                        path: path.to_path_buf(),
                        family: f.name.clone(),
                        restored: series,
                        source: Box::new(source),
                    })
                }
            }
        }
    }
    Ok(Restored {
        path: path.to_path_buf(),
        seq: cp.seq,
        taken_at_nanos: cp.taken_at_nanos,
        families: cp.families.len(),
        series,
        series_with_history: with_history,
        points: cp.points(),
        elapsed: Duration::ZERO,
    })
}

fn file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:020}{SUFFIX}")
}

/// The sequence number of a checkpoint's file name (`checkpoint-<digits>.lmc`).
fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_temp(name: &str) -> bool {
    name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX)
}

fn read_dir(dir: &Path) -> Result<Vec<String>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, "list directory", e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "list directory", e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, "fsync directory", e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_sort_numerically() {
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(parse_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_name("checkpoint-7.lmc"), Some(7));
        for bad in [
            "checkpoint-.lmc",
            "checkpoint-1.lmc.tmp",
            "checkpoint--1.lmc",
            "checkpoint-99999999999999999999999.lmc",
            "other-1.lmc",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
        assert!(is_temp("checkpoint-00000000000000000001.lmc.tmp"));
        assert!(file_name(9) < file_name(10));
    }
}
