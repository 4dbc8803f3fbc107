//! A directory of checkpoints: crash-safe writes, pruning, and restore with
//! fallback to the newest checkpoint that reads back whole.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use lakemetrics_core::{Filter, MetricKind, Registry, SeriesState, StateData, OVERFLOW_LABEL};

use crate::checkpoint::{self, kind_index, Checkpoint, HistoryStats};
use crate::error::{Error, Result, Skipped};
use crate::file::{self, Limits, DEFAULT_MAX_CHECKPOINT_BYTES, DEFAULT_READ_TIMEOUT};

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
    limits: Limits,
    read_only: bool,
    /// The next checkpoint's sequence number (`None` once `u64::MAX` was
    /// written); held while one is written, so writes through clones of a store
    /// take turns.
    next_seq: Mutex<Option<u64>>,
}

/// Options of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreBuilder {
    dir: PathBuf,
    keep: usize,
    level: usize,
    limits: Limits,
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

    /// The largest checkpoint file the store reads, in bytes
    /// ([`DEFAULT_MAX_CHECKPOINT_BYTES`] by default; more than zero). A larger
    /// file is passed over as [`Error::TooLarge`] without reading past its header.
    pub fn max_checkpoint_bytes(mut self, bytes: u64) -> Self {
        self.limits.max_bytes = bytes;
        self
    }

    /// The longest the store spends reading one checkpoint file
    /// ([`DEFAULT_READ_TIMEOUT`] by default; more than zero). A slower read is
    /// abandoned as [`Error::TimedOut`].
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// Opens the store, creating the directory if needed. Leftover temporary
    /// files of checkpoints a crash interrupted are removed.
    ///
    /// The next checkpoint's sequence number follows the largest in the
    /// directory's checkpoint names. If that is `u64::MAX`, it follows the
    /// largest of the store's own checkpoints instead (a regular file whose
    /// header holds the sequence number of its name); if that one is
    /// `u64::MAX` too, opening fails with [`Error::SequenceExhausted`].
    pub fn open(self) -> Result<Store> {
        self.validate()?;
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, "create directory", e))?;
        let entries = list(&self.dir)?;
        for e in &entries {
            if e.regular && is_temp(&e.name) {
                let path = self.dir.join(&e.name);
                fs::remove_file(&path).map_err(|e| Error::io(&path, "remove temporary file", e))?;
            }
        }
        let newest = entries.iter().filter_map(|e| parse_name(&e.name)).max();
        let next = match newest.map(|n| n.checked_add(1)) {
            None => 1,
            Some(Some(next)) => next,
            Some(None) => {
                // A name claims the last sequence number: go on after our own.
                let ours = entries
                    .iter()
                    .filter_map(|e| {
                        let seq = parse_name(&e.name)?;
                        is_ours(&self.dir.join(&e.name), seq).then_some(seq)
                    })
                    .max();
                match ours {
                    None => 1,
                    Some(u64::MAX) => {
                        return Err(Error::SequenceExhausted {
                            path: self.dir.join(file_name(u64::MAX)),
                        })
                    }
                    Some(n) => n + 1,
                }
            }
        };
        Ok(self.build(false, Some(next)))
    }

    /// Opens an existing store to read it only: the directory is neither
    /// created nor changed (temporary files stay), and [`Store::checkpoint`]
    /// fails with [`Error::ReadOnly`]. For tools such as `lakemetrics inspect`.
    pub fn open_read_only(self) -> Result<Store> {
        self.validate()?;
        // Lists it once, so that an unreadable directory is an error here.
        list(&self.dir)?;
        Ok(self.build(true, None))
    }

    fn validate(&self) -> Result<()> {
        if self.limits.max_bytes == 0 {
            return Err(Error::InvalidConfig {
                what: "max checkpoint bytes",
                reason: "must be more than zero".into(),
            });
        }
        if self.limits.timeout.is_zero() {
            return Err(Error::InvalidConfig {
                what: "read timeout",
                reason: "must be more than zero".into(),
            });
        }
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
        Ok(())
    }

    fn build(self, read_only: bool, next: Option<u64>) -> Store {
        Store {
            inner: Arc::new(Inner {
                dir: self.dir,
                keep: self.keep,
                level: self.level,
                limits: self.limits,
                read_only,
                next_seq: Mutex::new(next),
            }),
        }
    }
}

/// Whether `path` is one of the store's own checkpoints: a regular file whose
/// header checks out and holds `seq`, the sequence number of its name. Only
/// these count towards the number kept, and only these are ever removed.
fn is_ours(path: &Path, seq: u64) -> bool {
    file::read_header(path).is_ok_and(|h| h.seq == seq)
}

/// A checkpoint file in a store's directory: an entry named
/// `checkpoint-<seq>.lmc`, `<seq>` decimal digits that fit a `u64`. Nothing is
/// known of its contents yet (it may not even be a regular file: reading it
/// says).
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
    /// Whether it is an interim checkpoint ([`Store::checkpoint_interim`]).
    pub interim: bool,
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
    /// Whether the checkpoint was an interim one (the process that wrote it
    /// did not stop cleanly after it): then counters, histograms and summaries
    /// were restored as new series, at zero with no history and created now,
    /// and only gauges with their values and history.
    pub fresh_start: bool,
    /// Series restored at zero because of [`Restored::fresh_start`].
    pub series_started_afresh: usize,
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

    /// Opens the store in `dir` read-only with the default options (see
    /// [`StoreBuilder::open_read_only`]).
    pub fn open_read_only(dir: impl Into<PathBuf>) -> Result<Store> {
        Store::builder(dir).open_read_only()
    }

    /// A builder for other options.
    pub fn builder(dir: impl Into<PathBuf>) -> StoreBuilder {
        StoreBuilder {
            dir: dir.into(),
            keep: DEFAULT_KEEP,
            level: DEFAULT_COMPRESSION_LEVEL,
            limits: Limits {
                max_bytes: DEFAULT_MAX_CHECKPOINT_BYTES,
                timeout: DEFAULT_READ_TIMEOUT,
            },
        }
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The checkpoint files in the directory (every entry named
    /// `checkpoint-<seq>.lmc`), newest first. Other names, `checkpoint-abc.lmc`
    /// or `checkpoint-.lmc` say, are not checkpoints and are never read.
    pub fn checkpoints(&self) -> Result<Vec<CheckpointFile>> {
        let mut files: Vec<CheckpointFile> = list(&self.inner.dir)?
            .into_iter()
            .filter_map(|e| {
                parse_name(&e.name).map(|seq| CheckpointFile {
                    seq,
                    path: self.inner.dir.join(e.name),
                })
            })
            .collect();
        files.sort_by_key(|f| std::cmp::Reverse(f.seq));
        Ok(files)
    }

    /// Reads, decodes and verifies one checkpoint file with the store's limits
    /// (see [`Checkpoint::read`]; its header must hold the sequence number of
    /// its name).
    pub fn read(&self, file: &CheckpointFile) -> Result<Checkpoint> {
        file::read(&file.path, &self.inner.limits)
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
    ///
    /// This is a final checkpoint: call it once nothing serves the registry's
    /// values any more (stop the HTTP exporter first), so that it holds at
    /// least every value a scrape saw, and a restore continues from it. While
    /// the process goes on serving, use [`Store::checkpoint_interim`].
    pub fn checkpoint(&self, reg: &Registry) -> Result<CheckpointInfo> {
        self.write(reg, false)
    }

    /// Writes an interim checkpoint: one taken while the process goes on
    /// recording and serving ([`Checkpointer`](crate::Checkpointer) writes these
    /// on its interval). A scrape after it may see more than it holds, so if it
    /// is the newest when the store is restored (the process stopped without a
    /// final checkpoint: a crash), the restore starts cumulative series afresh
    /// rather than move them backwards; see [`Store::restore`].
    pub fn checkpoint_interim(&self, reg: &Registry) -> Result<CheckpointInfo> {
        self.write(reg, true)
    }

    fn write(&self, reg: &Registry, interim: bool) -> Result<CheckpointInfo> {
        let started = Instant::now();
        let inner = &*self.inner;
        if inner.read_only {
            return Err(Error::ReadOnly {
                dir: inner.dir.clone(),
            });
        }
        let mut next = inner
            .next_seq
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Never replace a file we did not write (one that appeared meanwhile).
        let mut seq = (*next).ok_or_else(|| Error::SequenceExhausted {
            path: inner.dir.join(file_name(u64::MAX)),
        })?;
        while fs::symlink_metadata(inner.dir.join(file_name(seq))).is_ok() {
            seq = seq.checked_add(1).ok_or_else(|| Error::SequenceExhausted {
                path: inner.dir.join(file_name(u64::MAX)),
            })?;
        }
        let path = inner.dir.join(file_name(seq));
        let tmp = inner.dir.join(format!("{PREFIX}{seq:020}{TMP_SUFFIX}"));
        let written = match write_file(reg, seq, inner.level, interim, &tmp) {
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
        *next = seq.checked_add(1);
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
            interim,
            removed,
            elapsed: started.elapsed(),
            history: written.history,
        })
    }

    /// Removes all but the newest `keep` of the store's own checkpoints (see
    /// [`is_ours`]); returns how many it removed. Other files, even with a
    /// checkpoint's name, neither count nor go.
    fn prune(&self) -> Result<usize> {
        let files = self.checkpoints()?;
        let mut removed = 0;
        let ours = files.iter().filter(|f| is_ours(&f.path, f.seq));
        for f in ours.skip(self.inner.keep) {
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
            match self.read(&f) {
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
    /// If that checkpoint is an interim one ([`Store::checkpoint_interim`]: the
    /// process that wrote it went on serving, then stopped without a final
    /// checkpoint), a scrape may have seen counters above what it holds, and
    /// restoring them would move them backwards, which Prometheus takes for a
    /// reset and counts the whole restored total as new increase. So counters,
    /// histograms and summaries start afresh instead: each series is restored
    /// at zero, without history, created now (a new `_created`); Prometheus sees
    /// a reset to zero, and its `increase()` across the restart misses only what
    /// was recorded after the last scrape. Gauges restore whole.
    /// [`Restored::fresh_start`] says which happened.
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

fn write_file(
    reg: &Registry,
    seq: u64,
    level: usize,
    interim: bool,
    tmp: &Path,
) -> Result<checkpoint::Written> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)
        .map_err(|e| Error::io(tmp, "create", e))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let written = checkpoint::write(reg, seq, level, interim, &mut w)
        .map_err(|e| Error::io(tmp, "write", e))?;
    let file = w
        .into_inner()
        .map_err(|e| Error::io(tmp, "write", e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(tmp, "fsync", e))?;
    Ok(written)
}

fn is_overflow(labels: &[(String, String)]) -> bool {
    matches!(labels, [(k, v)] if k == OVERFLOW_LABEL && v == "true")
}

/// A cumulative series' state as a new series' (zero, no history, created
/// `now`), for a restore from an interim checkpoint; a gauge's as saved.
fn fresh(state: &SeriesState, now: u64) -> Option<SeriesState> {
    let data = match &state.data {
        StateData::Gauge { .. } => return None,
        StateData::Counter { .. } => StateData::Counter {
            total: 0,
            bases: Vec::new(),
        },
        StateData::Histogram { counts, .. } => StateData::Histogram {
            counts: vec![0; counts.len()],
            sum: 0.0,
            bases: Vec::new(),
            sum_bases: Vec::new(),
            native: None,
        },
        StateData::Summary { .. } => StateData::Summary {
            count: 0,
            sum: 0.0,
            count_bases: Vec::new(),
            sum_bases: Vec::new(),
            sketches: Vec::new(),
        },
    };
    Some(SeriesState {
        created: now,
        epochs: Vec::new(),
        data,
    })
}

/// Restores a verified checkpoint into `reg`: every check first, then the series.
fn apply(reg: &Registry, cp: &Checkpoint, path: &Path) -> Result<Restored> {
    let now = reg.now_nanos();
    // The states to restore: as saved, or afresh after an interim checkpoint.
    let afresh: Vec<Vec<Option<SeriesState>>> = cp
        .families
        .iter()
        .map(|f| {
            f.series
                .iter()
                .map(|s| {
                    if cp.interim {
                        fresh(&s.state, now)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .collect();
    let state = |fi: usize, si: usize| -> &SeriesState {
        afresh[fi][si]
            .as_ref()
            .unwrap_or(&cp.families[fi].series[si].state)
    };
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
    for (fi, f) in cp.families.iter().enumerate() {
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
        for (si, s) in f.series.iter().enumerate() {
            let l: Vec<(&str, &str)> = s
                .labels
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            reg.check_restore(&f.name, &l, state(fi, si))
                .map_err(|e| incompatible(&f.name, e))?;
            labels.push(l);
        }
    }
    let mut labels = labels.into_iter();
    let (mut series, mut with_history) = (0, 0);
    for (fi, f) in cp.families.iter().enumerate() {
        for (si, l) in (0..f.series.len()).zip(labels.by_ref()) {
            match reg.restore_series(&f.name, &l, state(fi, si), f.geometry) {
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
        fresh_start: cp.interim,
        series_started_afresh: afresh.iter().flatten().filter(|s| s.is_some()).count(),
        elapsed: Duration::ZERO,
    })
}

fn file_name(seq: u64) -> String {
    format!("{PREFIX}{seq:020}{SUFFIX}")
}

/// The sequence number of a checkpoint's file name (`checkpoint-<digits>.lmc`).
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn is_temp(name: &str) -> bool {
    name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX)
}

/// A directory entry: its name and whether it is a regular file (not
/// following a symbolic link).
struct Entry {
    name: String,
    regular: bool,
}

fn list(dir: &Path) -> Result<Vec<Entry>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, "list directory", e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, "list directory", e))?;
        if let Ok(name) = entry.file_name().into_string() {
            // `file_type` does not follow links; an error reads as "not regular".
            let regular = entry.file_type().is_ok_and(|t| t.is_file());
            names.push(Entry { name, regular });
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
