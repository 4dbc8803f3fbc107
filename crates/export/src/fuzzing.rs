//! Round-trip checks for fuzzing (feature `fuzzing`; not for production use).
//!
//! Each check decodes arbitrary bytes into a [`Case`] (HELP text, label values,
//! numbers), builds a registry from it, writes it in one format, parses the output
//! back with a parser that does not share code with the writers (a strict reader of
//! the text formats written here from the specs, or `serde_json`), and panics
//! unless every name, HELP text, label value and number comes back exactly.
//!
//! The cargo-fuzz targets in `fuzz/` call these with the fuzzer's input; the
//! crate's `tests/fuzz_corpus.rs` calls them over [`seed_corpus`], so CI runs the
//! same logic on stable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use lakemetrics_core::{Buckets, Describe, Filter, ManualClock, Registry, Retention, SeriesData};

use crate::text::unit_suffixes;

/// Characters that bytes `0x80..` decode to, so that short inputs reach
/// multi-byte UTF-8, line separators and the like.
const WIDE: [&str; 8] = [
    "λ",
    "é",
    "\u{1F600}",
    "\u{2028}",
    "\u{FEFF}",
    "日本",
    "\u{0}",
    "\u{7F}",
];

/// One decoded fuzz input: everything a registry is built from.
#[derive(Debug, Clone)]
pub struct Case {
    /// HELP text shared by the four families.
    pub help: String,
    /// Whether the counter's name already ends in `_total`.
    pub counter_total_suffix: bool,
    /// Whether the families get a unit (`bytes`, which only some names end in).
    pub with_unit: bool,
    /// Label pairs of the one series of each family (distinct names).
    pub labels: Vec<(&'static str, String)>,
    /// The counter's increment.
    pub counter: u64,
    /// The gauge's value (any bits: NaN, infinities, subnormals).
    pub gauge: f64,
    /// Histogram bucket upper bounds (valid for `Buckets::new`).
    pub bounds: Vec<f64>,
    /// Observations of the histogram and the summary.
    pub observations: Vec<f64>,
    /// Summary objectives, each in `[0, 1]`.
    pub objectives: Vec<f64>,
    /// The clock's time, ns since the Unix epoch.
    pub now: u64,
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        let mut v = 0u64;
        for _ in 0..8 {
            v = (v << 8) | u64::from(self.byte());
        }
        v
    }

    fn f64(&mut self) -> f64 {
        // Mostly "ordinary" numbers, sometimes any bit pattern.
        match self.byte() % 4 {
            0 => f64::from_bits(self.u64()),
            1 => f64::from(self.byte() as i8) / 4.0,
            2 => (self.u64() % 1_000_000) as f64 / 1000.0,
            _ => [
                0.0,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1e300,
                5e-324,
                0.1,
            ][usize::from(self.byte() % 8)],
        }
    }

    fn string(&mut self, max: usize) -> String {
        let len = usize::from(self.byte()) % (max + 1);
        let mut s = String::new();
        for _ in 0..len {
            let b = self.byte();
            if b < 0x80 {
                s.push(char::from(b));
            } else {
                s.push_str(WIDE[usize::from(b & 7)]);
            }
        }
        s
    }
}

impl Case {
    /// The case's labels.
    fn pairs(&self) -> Vec<(&str, &str)> {
        self.labels.iter().map(|(k, v)| (*k, v.as_str())).collect()
    }

    /// The case's labels without the one named `reserved` (core reserves `le` on
    /// histograms and `quantile` on summaries).
    fn pairs_without(&self, reserved: &str) -> Vec<(&str, &str)> {
        let mut pairs = self.pairs();
        pairs.retain(|(k, _)| *k != reserved);
        pairs
    }

    /// Decodes `data`; every input gives a valid case (missing bytes read as 0).
    pub fn from_bytes(data: &[u8]) -> Case {
        let mut b = Bytes(data);
        let help = b.string(48);
        let flags = b.byte();
        let mut labels = Vec::new();
        for (bit, name) in [
            (0x04, "a"),
            (0x08, "le"),
            (0x10, "path"),
            (0x20, "quantile"),
        ] {
            if flags & bit != 0 {
                labels.push((name, b.string(24)));
            }
        }
        labels.sort_by_key(|(k, _)| *k);
        let counter = match b.byte() % 3 {
            0 => u64::from(b.byte()),
            1 => b.u64(),
            _ => u64::MAX - u64::from(b.byte()),
        };
        let gauge = b.f64();
        let mut bounds: Vec<f64> = (0..1 + b.byte() % 5)
            .map(|_| b.f64())
            .filter(|v| v.is_finite())
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup_by(|x, y| x == y);
        if bounds.is_empty() {
            bounds.push(1.0);
        }
        let observations = (0..b.byte() % 8).map(|_| b.f64()).collect();
        let mut objectives: Vec<f64> = (0..b.byte() % 4)
            .map(|_| f64::from(b.byte()) / 255.0)
            .collect();
        objectives.sort_by(f64::total_cmp);
        objectives.dedup();
        let now = 1_600_000_000_000_000_000 + (b.u64() % (1 << 50));
        Case {
            help,
            counter_total_suffix: flags & 1 != 0,
            with_unit: flags & 2 != 0,
            labels,
            counter,
            gauge,
            bounds,
            observations,
            objectives,
            now,
        }
    }

    /// The counter's name.
    pub fn counter_name(&self) -> &'static str {
        if self.counter_total_suffix {
            "fz_read_bytes_total"
        } else {
            "fz_read_bytes"
        }
    }

    /// The registry this case describes: a counter, a gauge, a histogram and a
    /// summary (in that name order), one series each with the case's labels.
    pub fn registry(&self) -> Registry {
        let reg = Registry::builder()
            .clock(Arc::new(ManualClock::new(self.now)))
            .retention(Retention::new(Duration::from_secs(1), Duration::from_secs(10)).unwrap())
            .build();
        self.register_into(&reg, "fz", &self.help);
        reg
    }

    /// Registers the case's four families in `reg` under names starting with
    /// `<prefix>_`, with `help`, and records the case's values: so that many cases
    /// can share one registry (the conformance tests export them all at once).
    pub fn register_into(&self, reg: &Registry, prefix: &str, help: &str) {
        let counter = format!(
            "{prefix}_read_bytes{}",
            if self.counter_total_suffix {
                "_total"
            } else {
                ""
            }
        );
        let gauge = format!("{prefix}_size_bytes");
        let histogram = format!("{prefix}_wait");
        let summary = format!("{prefix}_zz_latency");
        let unit = |d: Describe| if self.with_unit { d.unit("bytes") } else { d };
        reg.register(unit(Describe::counter(&counter).help(help)))
            .unwrap();
        reg.register(unit(Describe::gauge(&gauge).help(help)))
            .unwrap();
        reg.register(
            unit(Describe::histogram(&histogram).help(help))
                .buckets(Buckets::new(self.bounds.clone()).unwrap()),
        )
        .unwrap();
        let s = Describe::summary(&summary).help(help);
        let s = if self.objectives.is_empty() {
            s
        } else {
            s.objectives(self.objectives.clone())
        };
        reg.register(s).unwrap();
        let pairs = self.pairs();
        reg.counter(&counter, &pairs).unwrap().inc_by(self.counter);
        reg.gauge(&gauge, &pairs).unwrap().set(self.gauge);
        let h = reg
            .histogram(&histogram, &self.pairs_without("le"))
            .unwrap();
        let s = reg
            .summary(&summary, &self.pairs_without("quantile"))
            .unwrap();
        for &v in &self.observations {
            h.observe(v);
            s.observe(v);
        }
    }
}

/// A family as a text parser reads it back.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFamily {
    /// The name in the metadata lines.
    pub name: String,
    /// `# TYPE`.
    pub kind: String,
    /// `# HELP`, unescaped (`None` when absent).
    pub help: Option<String>,
    /// `# UNIT` (OpenMetrics).
    pub unit: Option<String>,
    /// The samples, in order.
    pub samples: Vec<ParsedSample>,
}

/// A sample as a text parser reads it back.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// The sample name (with its suffix).
    pub name: String,
    /// Label pairs, unescaped, in order.
    pub labels: Vec<(String, String)>,
    /// The value's text.
    pub value: String,
}

impl ParsedSample {
    /// The value as a float (`NaN`, `+Inf`, `-Inf` included).
    pub fn float(&self) -> f64 {
        match self.value.as_str() {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or(f64::NAN),
        }
    }

    /// A label's value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A strict reader of the two text formats as the specs define them (not as
/// this crate writes them: it shares no code with the writers). It rejects what
/// either spec forbids or leaves undefined: blank lines, unknown `#` lines,
/// undefined escapes, unescaped `"` where OpenMetrics requires `\"`, malformed
/// numbers, samples outside the current family, interleaved families, anything
/// after `# EOF`, and (OpenMetrics) a missing `# EOF`.
pub fn parse_text(text: &str, openmetrics: bool) -> Result<Vec<ParsedFamily>, String> {
    let mut families: Vec<ParsedFamily> = Vec::new();
    let body = text
        .strip_suffix('\n')
        .ok_or("the output must end with a line feed")?;
    if body.is_empty() {
        return if openmetrics {
            Err("missing # EOF".into())
        } else {
            Ok(families)
        };
    }
    let mut eof = false;
    for line in body.split('\n') {
        if eof {
            return Err(format!("line after # EOF: {line:?}"));
        }
        if line.is_empty() {
            return Err("blank line".into());
        }
        if let Some(rest) = line.strip_prefix('#') {
            if openmetrics && line == "# EOF" {
                eof = true;
                continue;
            }
            let rest = rest
                .strip_prefix(' ')
                .ok_or("# must be followed by a space")?;
            let (keyword, rest) = rest.split_once(' ').ok_or("metadata without a name")?;
            let (name, value) = rest.split_once(' ').ok_or("metadata without a value")?;
            check_metric_name(name)?;
            if families.last().is_none_or(|f| f.name != name) {
                if families.iter().any(|f| f.name == name) {
                    return Err(format!("family {name} interleaved"));
                }
                families.push(ParsedFamily {
                    name: name.into(),
                    ..ParsedFamily::default()
                });
            }
            let fam = families.last_mut().unwrap();
            if !fam.samples.is_empty() {
                return Err(format!("metadata after samples: {line:?}"));
            }
            match keyword {
                "HELP" if fam.help.is_none() => {
                    fam.help = Some(unescape(value, openmetrics, true)?)
                }
                "TYPE" if fam.kind.is_empty() => {
                    let ok: &[&str] = if openmetrics {
                        &[
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "unknown",
                            "gaugehistogram",
                            "stateset",
                            "info",
                        ]
                    } else {
                        &["counter", "gauge", "histogram", "summary", "untyped"]
                    };
                    if !ok.contains(&value) {
                        return Err(format!("bad type {value:?}"));
                    }
                    fam.kind = value.into();
                }
                "UNIT" if openmetrics && fam.unit.is_none() => {
                    if !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                    {
                        return Err(format!("bad unit {value:?}"));
                    }
                    fam.unit = Some(value.into());
                }
                _ => return Err(format!("unexpected metadata line {line:?}")),
            }
            continue;
        }
        let sample = parse_sample(line, openmetrics)?;
        let fam = families
            .last_mut()
            .ok_or_else(|| format!("sample before any metadata: {line:?}"))?;
        let suffixes: &[&str] = match (fam.kind.as_str(), openmetrics) {
            ("counter", true) => &["_total", "_created"],
            ("counter", false) | ("gauge", _) => &[""],
            ("histogram", true) => &["_bucket", "_sum", "_count", "_created"],
            ("histogram", false) => &["_bucket", "_sum", "_count"],
            ("summary", true) => &["", "_sum", "_count", "_created"],
            ("summary", false) => &["", "_sum", "_count"],
            _ => return Err(format!("sample of an untyped family: {line:?}")),
        };
        let suffix = sample
            .name
            .strip_prefix(fam.name.as_str())
            .filter(|s| suffixes.contains(s))
            .ok_or_else(|| format!("sample {:?} outside family {}", sample.name, fam.name))?;
        if suffix == "_bucket" && sample.label("le").is_none() {
            return Err(format!("bucket without le: {line:?}"));
        }
        fam.samples.push(sample);
    }
    if openmetrics && !eof {
        return Err("missing # EOF".into());
    }
    Ok(families)
}

fn check_metric_name(name: &str) -> Result<(), String> {
    let ok = name.chars().enumerate().all(|(i, c)| {
        c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
    });
    if ok && !name.is_empty() {
        Ok(())
    } else {
        Err(format!("bad metric name {name:?}"))
    }
}

/// Unescapes a label value or HELP text. 0.0.4 HELP knows `\\` and `\n` only (and
/// keeps `"` as is); label values and OpenMetrics HELP know `\\`, `\n`, `\"`, and
/// a bare `"` in them is an error.
fn unescape(s: &str, openmetrics: bool, help: bool) -> Result<String, String> {
    let quotes = openmetrics || !help;
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\\') => out.push('\\'),
                Some('n') => out.push('\n'),
                Some('"') if quotes => out.push('"'),
                other => return Err(format!("undefined escape \\{other:?} in {s:?}")),
            },
            '"' if quotes => return Err(format!("unescaped quote in {s:?}")),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn parse_sample(line: &str, openmetrics: bool) -> Result<ParsedSample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or_else(|| format!("sample without value: {line:?}"))?;
    let name = &line[..name_end];
    check_metric_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            if !labels.is_empty() {
                rest = rest
                    .strip_prefix(',')
                    .ok_or_else(|| format!("expected , in {line:?}"))?;
            }
            let eq = rest
                .find('=')
                .ok_or_else(|| format!("label without = in {line:?}"))?;
            let lname = &rest[..eq];
            let valid = !lname.is_empty()
                && lname.chars().enumerate().all(|(i, c)| {
                    c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit())
                });
            if !valid {
                return Err(format!("bad label name {lname:?}"));
            }
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or_else(|| format!("label value without quote in {line:?}"))?;
            // The value ends at the first quote not escaped.
            let bytes = rest.as_bytes();
            let mut i = 0;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if i >= bytes.len() {
                return Err(format!("unterminated label value in {line:?}"));
            }
            let value = unescape(&rest[..i], openmetrics, false)?;
            if labels.iter().any(|(k, _): &(String, String)| k == lname) {
                return Err(format!("duplicate label {lname:?}"));
            }
            labels.push((lname.to_string(), value));
            rest = &rest[i + 1..];
        }
    }
    let value = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no space before value in {line:?}"))?;
    if value.contains(' ') {
        return Err(format!("timestamps or exemplars are not written: {line:?}"));
    }
    check_number(value)?;
    Ok(ParsedSample {
        name: name.into(),
        labels,
        value: value.into(),
    })
}

/// A number as both specs allow it (restricted to the spellings of infinities
/// and NaN that the Prometheus docs give): `[-+]digits[.digits][e[-+]digits]`.
fn check_number(v: &str) -> Result<(), String> {
    if matches!(v, "NaN" | "+Inf" | "-Inf") {
        return Ok(());
    }
    let body = v.strip_prefix(['-', '+']).unwrap_or(v);
    let (mantissa, exp) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix(['-', '+']).unwrap_or(e))),
        None => (body, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let ok = (!int.is_empty() || !frac.is_empty())
        && digits(int)
        && digits(frac)
        && exp.is_none_or(|e| !e.is_empty() && digits(e));
    if ok {
        Ok(())
    } else {
        Err(format!("bad number {v:?}"))
    }
}

/// The values a case's registry holds, read through the handles (not through a
/// visit, which the writers use).
struct Expected {
    counter: u64,
    gauge: f64,
    buckets: Vec<u64>,
    count: u64,
    hist_sum: f64,
    sum_count: u64,
    sum_sum: f64,
    quantiles: Vec<(f64, f64)>,
    created: u64,
}

impl Expected {
    fn of(case: &Case, reg: &Registry) -> Expected {
        let pairs = case.pairs();
        let h = reg
            .histogram("fz_wait", &case.pairs_without("le"))
            .unwrap()
            .snapshot();
        let s = reg
            .summary("fz_zz_latency", &case.pairs_without("quantile"))
            .unwrap();
        let objectives = if case.objectives.is_empty() {
            lakemetrics_core::DEFAULT_OBJECTIVES.to_vec()
        } else {
            case.objectives.clone()
        };
        let window = Duration::from_secs(10);
        let mut cum = 0;
        Expected {
            counter: reg.counter(case.counter_name(), &pairs).unwrap().get(),
            gauge: reg.gauge("fz_size_bytes", &pairs).unwrap().get(),
            buckets: h
                .counts
                .iter()
                .map(|c| {
                    cum += c;
                    cum
                })
                .collect(),
            count: h.count(),
            hist_sum: h.sum,
            sum_count: s.count(),
            sum_sum: s.sum(),
            quantiles: objectives
                .iter()
                .map(|&q| (q, s.quantile(q, window)))
                .collect(),
            created: case.now,
        }
    }
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn export(reg: &Registry, format: crate::Format) -> String {
    let mut out = Vec::new();
    crate::write_format(format, reg, &Filter::all(), &mut out).unwrap();
    String::from_utf8(out).expect("output is UTF-8")
}

/// Writes the case's registry as Prometheus text 0.0.4 and checks that the strict
/// parser reads back every value. Panics on any difference.
pub fn prometheus_roundtrip(data: &[u8]) {
    text_roundtrip(data, false);
}

/// Writes the case's registry as OpenMetrics 1.0.0 and checks that the strict
/// parser reads back every value. Panics on any difference.
pub fn openmetrics_roundtrip(data: &[u8]) {
    text_roundtrip(data, true);
}

fn text_roundtrip(data: &[u8], om: bool) {
    let case = Case::from_bytes(data);
    let reg = case.registry();
    let want = Expected::of(&case, &reg);
    let format = if om {
        crate::Format::OpenMetrics
    } else {
        crate::Format::Prometheus
    };
    let text = export(&reg, format);
    let fams = parse_text(&text, om).unwrap_or_else(|e| panic!("{e}\n--- output:\n{text}"));
    let ctx = |what: &str| format!("{what}\n--- case: {case:?}\n--- output:\n{text}");
    assert_eq!(fams.len(), 4, "{}", ctx("family count"));
    // Empty help is written as the default text.
    let help = Some(if case.help.is_empty() {
        crate::DEFAULT_HELP.to_string()
    } else {
        case.help.clone()
    });
    let labels: Vec<(String, String)> = case
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    // Histograms and summaries were given the labels without the one they reserve.
    let without = |reserved: &str| -> Vec<(String, String)> {
        labels
            .iter()
            .filter(|(k, _)| k != reserved)
            .cloned()
            .collect()
    };
    let unit_line = |family: &str| {
        (om && case.with_unit && unit_suffixes(family, "bytes")).then(|| "bytes".to_string())
    };

    // Counter.
    let c = &fams[0];
    let stem = if om {
        "fz_read_bytes"
    } else {
        "fz_read_bytes_total"
    };
    assert_eq!(c.name, stem, "{}", ctx("counter name"));
    assert_eq!(c.kind, "counter");
    assert_eq!(c.help, help, "{}", ctx("counter help"));
    assert_eq!(c.unit, unit_line(stem), "{}", ctx("counter unit"));
    assert_eq!(c.samples[0].name, "fz_read_bytes_total");
    assert_eq!(c.samples[0].labels, labels, "{}", ctx("counter labels"));
    assert_eq!(
        c.samples[0].value,
        want.counter.to_string(),
        "{}",
        ctx("counter value")
    );
    if om {
        assert_eq!(c.samples.len(), 2);
        assert_eq!(c.samples[1].name, "fz_read_bytes_created");
        assert_eq!(c.samples[1].labels, labels);
        check_created(&c.samples[1].value, want.created);
    } else {
        assert_eq!(c.samples.len(), 1);
    }

    // Gauge.
    let g = &fams[1];
    assert_eq!(g.name, "fz_size_bytes");
    assert_eq!(g.kind, "gauge");
    assert_eq!(g.help, help);
    assert_eq!(g.unit, unit_line("fz_size_bytes"), "{}", ctx("gauge unit"));
    assert_eq!(g.samples.len(), 1);
    assert_eq!(g.samples[0].labels, labels);
    assert!(
        same(g.samples[0].float(), want.gauge),
        "{}",
        ctx("gauge value")
    );

    // Histogram.
    let h = &fams[2];
    assert_eq!(h.name, "fz_wait");
    assert_eq!(h.kind, "histogram");
    assert_eq!(h.help, help);
    assert_eq!(
        h.unit,
        None,
        "{}",
        ctx("histogram unit: fz_wait does not end in _bytes")
    );
    let hl = without("le");
    let n = case.bounds.len() + 1;
    for (i, s) in h.samples[..n].iter().enumerate() {
        assert_eq!(s.name, "fz_wait_bucket", "{}", ctx("bucket"));
        let (le, rest) = s.labels.split_last().unwrap();
        assert_eq!(rest, hl.as_slice(), "{}", ctx("bucket labels"));
        assert_eq!(le.0, "le");
        let bound = case.bounds.get(i).copied().unwrap_or(f64::INFINITY);
        let parsed: f64 = if le.1 == "+Inf" {
            f64::INFINITY
        } else {
            le.1.parse().unwrap()
        };
        assert!(same(parsed, bound), "{}", ctx("le"));
        assert_eq!(
            s.value,
            want.buckets[i].to_string(),
            "{}",
            ctx("bucket count")
        );
    }
    let mut rest = &h.samples[n..];
    let sum_allowed = !om || (case.bounds[0] >= 0.0 && want.hist_sum >= 0.0);
    if sum_allowed {
        assert_eq!(rest[0].name, "fz_wait_sum", "{}", ctx("histogram sum"));
        assert_eq!(rest[0].labels, hl);
        assert!(
            same(rest[0].float(), want.hist_sum),
            "{}",
            ctx("histogram sum")
        );
        assert_eq!(rest[1].name, "fz_wait_count");
        assert_eq!(rest[1].value, want.count.to_string());
        rest = &rest[2..];
    }
    if om {
        assert_eq!(rest[0].name, "fz_wait_created");
        check_created(&rest[0].value, want.created);
        rest = &rest[1..];
    }
    assert!(rest.is_empty(), "{}", ctx("extra histogram samples"));

    // Summary.
    let s = &fams[3];
    assert_eq!(s.name, "fz_zz_latency");
    assert_eq!(s.kind, "summary");
    assert_eq!(s.help, help);
    let sl = without("quantile");
    let mut samples = s.samples.iter();
    for &(q, v) in &want.quantiles {
        if om && v < 0.0 {
            continue;
        }
        let smp = samples.next().expect("quantile sample");
        assert_eq!(smp.name, "fz_zz_latency");
        let (ql, rest) = smp.labels.split_last().unwrap();
        assert_eq!(rest, sl.as_slice(), "{}", ctx("quantile labels"));
        assert_eq!(ql.0, "quantile");
        assert!(same(ql.1.parse().unwrap(), q), "{}", ctx("quantile label"));
        assert!(same(smp.float(), v), "{}", ctx("quantile value"));
    }
    if !om || want.sum_sum >= 0.0 {
        let smp = samples.next().expect("summary sum");
        assert_eq!(smp.name, "fz_zz_latency_sum");
        assert!(same(smp.float(), want.sum_sum), "{}", ctx("summary sum"));
    }
    let smp = samples.next().expect("summary count");
    assert_eq!(smp.name, "fz_zz_latency_count");
    assert_eq!(smp.value, want.sum_count.to_string());
    if om {
        let smp = samples.next().expect("summary created");
        assert_eq!(smp.name, "fz_zz_latency_created");
        check_created(&smp.value, want.created);
    }
    assert!(samples.next().is_none(), "{}", ctx("extra summary samples"));
}

/// Writes the case's registry as the Prometheus protobuf exposition, decodes it
/// with prost (the [`crate::proto`] schema, which shares no code with the
/// writer) and checks every field against the registry; then encodes native
/// buckets derived from the case's observations and checks that their spans
/// and deltas decode back to the same buckets. Panics on any difference.
pub fn protobuf_roundtrip(data: &[u8]) {
    use crate::proto::{self, MetricType};
    let case = Case::from_bytes(data);
    let reg = case.registry();
    let want = Expected::of(&case, &reg);
    let mut out = Vec::new();
    crate::write_format(crate::Format::Protobuf, &reg, &Filter::all(), &mut out).unwrap();
    let fams = proto::decode_all(&out).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    let ctx = |what: &str| format!("{what}\n--- case: {case:?}\n--- decoded: {fams:?}");
    assert_eq!(fams.len(), 4, "{}", ctx("family count"));
    let help = if case.help.is_empty() {
        crate::DEFAULT_HELP.to_string()
    } else {
        case.help.clone()
    };
    let labels = |reserved: &str| -> Vec<proto::LabelPair> {
        case.labels
            .iter()
            .filter(|(k, _)| *k != reserved)
            .map(|(k, v)| proto::LabelPair {
                name: Some(k.to_string()),
                value: Some(v.clone()),
            })
            .collect()
    };
    let created = Some(proto::Timestamp {
        seconds: (case.now / 1_000_000_000) as i64,
        nanos: (case.now % 1_000_000_000) as i32,
    });
    let kinds = [
        ("fz_read_bytes_total", MetricType::Counter, ""),
        ("fz_size_bytes", MetricType::Gauge, ""),
        ("fz_wait", MetricType::Histogram, "le"),
        ("fz_zz_latency", MetricType::Summary, "quantile"),
    ];
    for (fam, (name, ty, reserved)) in fams.iter().zip(kinds) {
        assert_eq!(fam.name.as_deref(), Some(name), "{}", ctx("name"));
        assert_eq!(fam.help.as_deref(), Some(help.as_str()), "{}", ctx("help"));
        assert_eq!(fam.r#type, Some(ty as i32), "{}", ctx("type"));
        assert_eq!(fam.unit, None);
        assert_eq!(fam.metric.len(), 1, "{}", ctx("series count"));
        let m = &fam.metric[0];
        assert_eq!(m.label, labels(reserved), "{}", ctx("labels"));
        assert_eq!(m.timestamp_ms, None);
        let present = [
            m.counter.is_some(),
            m.gauge.is_some(),
            m.histogram.is_some(),
            m.summary.is_some(),
            m.untyped.is_some(),
        ];
        assert_eq!(
            present.iter().filter(|p| **p).count(),
            1,
            "{}",
            ctx("one value")
        );
    }
    let c = fams[0].metric[0].counter.as_ref().unwrap();
    assert_eq!(c.value, Some(want.counter as f64), "{}", ctx("counter"));
    assert_eq!(c.created_timestamp, created, "{}", ctx("counter created"));
    let g = fams[1].metric[0].gauge.as_ref().unwrap();
    assert!(same(g.value.unwrap(), want.gauge), "{}", ctx("gauge"));
    let h = fams[2].metric[0].histogram.as_ref().unwrap();
    assert_eq!(
        h.sample_count,
        Some(want.count),
        "{}",
        ctx("histogram count")
    );
    assert!(
        same(h.sample_sum.unwrap(), want.hist_sum),
        "{}",
        ctx("histogram sum")
    );
    // One bucket per finite bound: +Inf is implied by the count.
    assert_eq!(h.bucket.len(), case.bounds.len(), "{}", ctx("bucket count"));
    for ((b, &le), &cum) in h.bucket.iter().zip(&case.bounds).zip(&want.buckets) {
        assert!(same(b.upper_bound.unwrap(), le), "{}", ctx("upper bound"));
        assert_eq!(b.cumulative_count, Some(cum), "{}", ctx("bucket"));
    }
    assert_eq!(want.buckets.last().copied(), Some(want.count));
    assert_eq!(h.created_timestamp, created);
    assert!(h.schema.is_none() && h.positive_span.is_empty() && h.zero_threshold.is_none());
    let s = fams[3].metric[0].summary.as_ref().unwrap();
    assert_eq!(
        s.sample_count,
        Some(want.sum_count),
        "{}",
        ctx("summary count")
    );
    assert!(
        same(s.sample_sum.unwrap(), want.sum_sum),
        "{}",
        ctx("summary sum")
    );
    assert_eq!(
        s.quantile.len(),
        want.quantiles.len(),
        "{}",
        ctx("quantiles")
    );
    for (q, &(wq, wv)) in s.quantile.iter().zip(&want.quantiles) {
        assert!(same(q.quantile.unwrap(), wq), "{}", ctx("quantile"));
        assert!(same(q.value.unwrap(), wv), "{}", ctx("quantile value"));
    }
    assert_eq!(s.created_timestamp, created);

    native_roundtrip(&case);
}

/// Native buckets from the case's observations (schema 0: bucket `i` holds
/// `(2^(i-1), 2^i]`), encoded and decoded back.
fn native_roundtrip(case: &Case) {
    use prost::Message;
    let threshold = if case.counter % 2 == 0 { 0.0 } else { 1e-128 };
    let (mut pos, mut neg) = (BTreeMap::<i32, u64>::new(), BTreeMap::<i32, u64>::new());
    let mut zero = 0;
    // Spread indices with the gauge's bits, to reach gaps and far spans.
    let spread = (case.gauge.to_bits() % 7) as i32;
    for &v in &case.observations {
        if v.is_nan() || v.is_infinite() {
            continue;
        }
        if v.abs() <= threshold {
            zero += 1;
            continue;
        }
        let i = (v.abs().log2().ceil() as i32) * (1 + spread);
        *if v > 0.0 { &mut pos } else { &mut neg }
            .entry(i)
            .or_default() += 1;
    }
    let positive: Vec<(i32, u64)> = pos.into_iter().collect();
    let negative: Vec<(i32, u64)> = neg.into_iter().collect();
    let n = crate::NativeBuckets {
        schema: 0,
        zero_threshold: threshold,
        zero_count: zero,
        count: case.observations.len() as u64,
        sum: case.observations.iter().sum(),
        positive: &positive,
        negative: &negative,
    };
    let mut buf = Vec::new();
    let classic: Option<(&[f64], &[u64])> = case.with_unit.then_some((
        case.bounds.as_slice(),
        &[1u64; 8][..case.bounds.len().min(8)],
    ));
    crate::NativeEncoder::default()
        .encode_histogram(&mut buf, &n, classic, case.now)
        .unwrap_or_else(|e| panic!("{e}: {n:?}"));
    let h = crate::proto::Histogram::decode(buf.as_slice()).unwrap();
    let ctx = || format!("{n:?}\n--- decoded: {h:?}");
    assert_eq!(h.schema, Some(0));
    assert_eq!(h.zero_count, Some(zero), "{}", ctx());
    assert!(same(h.zero_threshold.unwrap(), threshold));
    assert_eq!(h.sample_count, Some(n.count));
    assert!(same(h.sample_sum.unwrap(), n.sum));
    assert_eq!(h.bucket.len(), classic.map_or(0, |c| c.1.len()));
    let expand = |spans: &[crate::proto::BucketSpan], deltas: &[i64]| {
        let mut out = Vec::new();
        let (mut index, mut count, mut d) = (0i64, 0i64, deltas.iter());
        for s in spans {
            index += i64::from(s.offset.unwrap());
            for _ in 0..s.length.unwrap() {
                count += d.next().expect("a delta per bucket");
                if count != 0 {
                    out.push((index as i32, count as u64));
                }
                index += 1;
            }
        }
        assert!(d.next().is_none(), "a delta per bucket");
        out
    };
    assert_eq!(
        expand(&h.positive_span, &h.positive_delta),
        positive,
        "{}",
        ctx()
    );
    assert_eq!(
        expand(&h.negative_span, &h.negative_delta),
        negative,
        "{}",
        ctx()
    );
    // Spans are never empty but for the marker an empty histogram gets, and
    // gaps inside them are at most MAX_SPAN_GAP.
    for spans in [&h.positive_span, &h.negative_span] {
        for (k, s) in spans.iter().enumerate() {
            if k > 0 {
                assert!(s.offset.unwrap() > crate::MAX_SPAN_GAP as i32, "{}", ctx());
            }
        }
    }
}

/// `_created` is written as exact decimal seconds: compare the digits, not a float.
fn check_created(text: &str, nanos: u64) {
    let (secs, frac) = text.split_once('.').expect("created has a fraction");
    assert_eq!(secs, (nanos / 1_000_000_000).to_string());
    let frac = format!("{frac:0<9}");
    assert_eq!(frac.len(), 9, "{text}");
    assert_eq!(
        frac.parse::<u64>().unwrap(),
        nanos % 1_000_000_000,
        "{text}"
    );
}

/// Writes the case's registry as JSON, parses it with `serde_json` and checks
/// every field against the registry. Panics on any difference.
pub fn json_roundtrip(data: &[u8]) {
    use serde_json::Value;
    let case = Case::from_bytes(data);
    let reg = case.registry();
    let want = Expected::of(&case, &reg);
    let text = export(&reg, crate::Format::Json);
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let ctx = |what: &str| format!("{what}\n--- case: {case:?}\n--- output:\n{text}");
    let float = |v: &Value| -> f64 {
        match v {
            Value::String(s) if s == "NaN" => f64::NAN,
            Value::String(s) if s == "+Inf" => f64::INFINITY,
            Value::String(s) if s == "-Inf" => f64::NEG_INFINITY,
            v => v.as_f64().unwrap_or_else(|| panic!("not a float: {v}")),
        }
    };
    let fams = doc["families"].as_array().expect("families");
    assert_eq!(fams.len(), 4, "{}", ctx("family count"));
    let labels: BTreeMap<String, Value> = case
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect();
    let labels = Value::Object(labels.into_iter().collect());
    let names = [
        case.counter_name(),
        "fz_size_bytes",
        "fz_wait",
        "fz_zz_latency",
    ];
    let kinds = ["counter", "gauge", "histogram", "summary"];
    for (i, fam) in fams.iter().enumerate() {
        assert_eq!(fam["name"], names[i], "{}", ctx("name"));
        assert_eq!(fam["kind"], kinds[i]);
        assert_eq!(
            fam["help"],
            Value::String(case.help.clone()),
            "{}",
            ctx("help")
        );
        let unit = if case.with_unit && i < 3 {
            Value::String("bytes".into())
        } else {
            Value::Null
        };
        assert_eq!(fam["unit"], unit, "{}", ctx("unit"));
        let series = fam["series"].as_array().unwrap();
        assert_eq!(series.len(), 1);
        // Histograms and summaries were given the labels without the one they reserve.
        let mut want_labels = labels.clone();
        if let (Some(m), Some(reserved)) = (
            want_labels.as_object_mut(),
            [None, None, Some("le"), Some("quantile")][i],
        ) {
            m.remove(reserved);
        }
        assert_eq!(series[0]["labels"], want_labels, "{}", ctx("labels"));
        let created = series[0]["created_ms"].as_f64().unwrap();
        assert!(
            (created - want.created as f64 / 1e6).abs() < 1e-3,
            "{}",
            ctx("created")
        );
    }
    assert_eq!(
        fams[0]["series"][0]["total"].as_u64(),
        Some(want.counter),
        "{}",
        ctx("total")
    );
    assert!(
        same(float(&fams[1]["series"][0]["value"]), want.gauge),
        "{}",
        ctx("gauge")
    );
    let h = &fams[2]["series"][0];
    let bounds: Vec<f64> = fams[2]["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    assert_eq!(bounds.len(), case.bounds.len());
    for (a, b) in bounds.iter().zip(&case.bounds) {
        assert!(same(*a, *b), "{}", ctx("bounds"));
    }
    let buckets: Vec<u64> = h["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(buckets, want.buckets, "{}", ctx("buckets"));
    assert_eq!(h["count"].as_u64(), Some(want.count));
    assert!(
        same(float(&h["sum"]), want.hist_sum),
        "{}",
        ctx("histogram sum")
    );
    let s = &fams[3]["series"][0];
    assert_eq!(s["count"].as_u64(), Some(want.sum_count));
    assert!(
        same(float(&s["sum"]), want.sum_sum),
        "{}",
        ctx("summary sum")
    );
    let objectives: Vec<f64> = fams[3]["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    let quantiles: Vec<f64> = s["quantiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(float)
        .collect();
    assert_eq!(objectives.len(), want.quantiles.len());
    for ((q, v), (wq, wv)) in objectives.iter().zip(&quantiles).zip(&want.quantiles) {
        assert!(same(*q, *wq) && same(*v, *wv), "{}", ctx("quantiles"));
    }
    // The span those quantiles cover: the series' life, created at `now`.
    for key in ["window_start_ms", "window_end_ms"] {
        let t = s[key].as_f64().unwrap();
        assert!((t - case.now as f64 / 1e6).abs() < 1e-3, "{}", ctx(key));
    }

    // History: everything was recorded in one epoch, the one the series were
    // created in, so each column holds one value: the core's point, if any.
    reg.visit(&Filter::all(), |fam| {
        let i = kinds
            .iter()
            .position(|k| *k == fam.kind().as_str())
            .unwrap();
        let series = fam.series().next().unwrap();
        let h = &fams[i]["series"][0]["history"];
        let epochs = series.history_epochs();
        assert_eq!(epochs.end - epochs.start, 1, "{}", ctx("history epochs"));
        let start = fam.geometry().epoch_start(epochs.start) / 1_000_000;
        assert_eq!(h["start_ms"].as_u64(), Some(start), "{}", ctx("start_ms"));
        let one = |col: &str| -> Value {
            let column = h[col].as_array().unwrap_or_else(|| panic!("{}", ctx(col)));
            assert_eq!(column.len(), 1, "{}", ctx(col));
            column[0].clone()
        };
        let (now, range) = (series.now(), series.range());
        match series.data() {
            SeriesData::Counter(c) => {
                let mut inc = 0;
                c.for_each_point(now, range, |p| inc = p.increase);
                assert_eq!(one("increase").as_u64(), Some(inc), "{}", ctx("increase"));
            }
            SeriesData::Gauge(g) => {
                let mut point = None;
                g.for_each_point(now, range, |p| point = Some([p.last, p.min, p.max]));
                for (j, col) in ["last", "min", "max"].iter().enumerate() {
                    match point {
                        Some(p) => assert!(same(float(&one(col)), p[j]), "{}", ctx(col)),
                        None => assert_eq!(one(col), Value::Null, "{}", ctx(col)),
                    }
                }
            }
            SeriesData::Histogram(x) => {
                let n = fam.bucket_bounds().len() + 1;
                let mut point = (vec![0; n], 0, 0.0);
                x.for_each_point(now, range, |p| {
                    let mut cum = 0;
                    point = (
                        p.counts
                            .iter()
                            .map(|c| {
                                cum += c;
                                cum
                            })
                            .collect(),
                        p.count(),
                        p.sum,
                    );
                });
                let buckets: Vec<u64> = one("buckets")
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect();
                assert_eq!(buckets, point.0, "{}", ctx("history buckets"));
                assert_eq!(
                    one("count").as_u64(),
                    Some(point.1),
                    "{}",
                    ctx("history count")
                );
                assert!(same(float(&one("sum")), point.2), "{}", ctx("history sum"));
            }
            SeriesData::Summary(x) => {
                let mut point = (vec![f64::NAN; objectives.len()], 0, 0.0);
                x.for_each_point(now, range, |p| {
                    point = (
                        objectives.iter().map(|&q| p.quantile(q)).collect(),
                        p.count,
                        p.sum,
                    );
                });
                let got: Vec<f64> = one("quantiles")
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(float)
                    .collect();
                assert_eq!(got.len(), point.0.len(), "{}", ctx("history quantiles"));
                for (a, b) in got.iter().zip(&point.0) {
                    assert!(same(*a, *b), "{}", ctx("history quantiles"));
                }
                assert_eq!(
                    one("count").as_u64(),
                    Some(point.1),
                    "{}",
                    ctx("history count")
                );
                assert!(same(float(&one("sum")), point.2), "{}", ctx("history sum"));
            }
        }
    });
}

/// The fixed seed corpus: hand-picked inputs that reach the escapes, the
/// non-finite numbers, negative buckets and reserved label names, then
/// pseudo-random ones from a fixed seed.
pub fn seed_corpus() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = vec![
        vec![],
        // HELP with `\`, `"`, a line feed; all label names; values with escapes.
        [
            &[12u8][..],
            b"a\\b\"c\nd \x80\x82",
            &[0x3f, 6],
            b"x\\\"\n\r\t",
            &[0],
            &[3, 0x81, 0x83, 0x86],
            &[8],
            b"\"}{,=# \\n",
            &[1, 0, 0, 0, 0, 0, 0, 0, 42],
            &[3, 2],
            &[3, 3, 1, 0xf0, 3, 4],
        ]
        .concat(),
        // Non-finite gauge, negative bounds, negative observations.
        vec![
            0, 0x15, 0, 7, 3, 2, 3, 1, 0xF0, 1, 0x10, 3, 1, 0xE0, 3, 4, 5, 1, 0x80, 3, 1, 3, 0, 2,
            0, 0, 0,
        ],
        // Large counter, many objectives.
        vec![
            1, b' ', 0x01, 2, 9, 0, 0, 0, 0, 0, 0, 0, 1, 3, 5, 0, 0, 3, 10, 128, 255,
        ],
    ];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for i in 0..400 {
        let len = 8 + (i * 7) % 120;
        let seed = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        seeds.push(seed);
    }
    seeds
}
