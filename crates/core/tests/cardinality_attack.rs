//! A cardinality attack: lookups of ever-new label sets past a limit. They must
//! cost no allocation and no write lock (so they do not queue behind one another),
//! the limit must hold exactly while it is being reached, and the overflow series
//! and its self-metric must account for every lookup sent there.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;

use lakemetrics_core::{
    Describe, Error, Filter, Registry, SeriesData, OVERFLOW_LABEL, OVERFLOW_METRIC,
};

struct Counting;

thread_local! {
    /// Allocations and bytes allocated by this thread.
    static ALLOCS: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn count(bytes: usize) {
    let _ = ALLOCS.try_with(|c| {
        let (n, b) = c.get();
        c.set((n + 1, b + bytes as u64));
    });
}

#[allow(unsafe_code)]
// SAFETY: defers to the system allocator; only counts calls on this thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// (allocations, bytes) made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> (u64, u64) {
    let (n0, b0) = ALLOCS.with(Cell::get);
    f();
    let (n1, b1) = ALLOCS.with(Cell::get);
    (n1 - n0, b1 - b0)
}

/// Label values built before any measurement, so the loops borrow them.
fn values(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("handler-{i}")).collect()
}

/// `(family, labels, total)` of every counter series, idle ones included.
fn counters(reg: &Registry) -> Vec<(String, String, u64)> {
    let mut out = Vec::new();
    reg.visit(&Filter::all().include_idle(true), |fam| {
        for s in fam.series() {
            let labels: Vec<String> = s.labels().map(|(k, v)| format!("{k}={v}")).collect();
            if let SeriesData::Counter(c) = s.data() {
                out.push((fam.name().to_string(), labels.join(","), c.total()));
            }
        }
    });
    out
}

fn total(reg: &Registry, family: &str, labels: &str) -> u64 {
    counters(reg)
        .into_iter()
        .find(|(f, l, _)| f == family && l == labels)
        .map_or(0, |(_, _, t)| t)
}

/// The overflow path, once: the first overflow creates the overflow series and
/// the self-metric's family and series; the second finds the self-metric's series
/// in the index, which fills this thread's lookup cache of the registry (allocated
/// once per thread and registry).
fn warm_up(reg: &Registry, value: &str) {
    for _ in 0..2 {
        reg.counter_or_overflow("rows", &[("handler", value)])
            .unwrap()
            .inc();
    }
}

#[test]
fn overflowing_lookups_past_a_family_limit_allocate_nothing() {
    let reg = Registry::new();
    reg.register(Describe::counter("rows").max_series(10))
        .unwrap();
    let values = values(1_011);
    for v in &values[..10] {
        reg.counter("rows", &[("handler", v)]).unwrap();
    }
    warm_up(&reg, &values[10]);
    let (n, bytes) = allocations(|| {
        for v in &values[11..] {
            reg.counter_or_overflow("rows", &[("handler", v.as_str())])
                .unwrap()
                .inc();
        }
    });
    assert_eq!((n, bytes), (0, 0), "1,000 overflowing lookups allocated");
    assert_eq!(
        reg.series_count(),
        11,
        "ten rows series and the self-metric"
    );
    let overflow = format!("{OVERFLOW_LABEL}=true");
    assert_eq!(total(&reg, "rows", &overflow), 1_002);
    assert_eq!(total(&reg, OVERFLOW_METRIC, "metric=rows"), 1_002);
}

#[test]
fn refused_lookups_allocate_nothing() {
    let reg = Registry::new();
    reg.register(Describe::counter("rows").max_series(10))
        .unwrap();
    let values = values(1_011);
    for v in &values[..10] {
        reg.counter("rows", &[("handler", v)]).unwrap();
    }
    let (n, bytes) = allocations(|| {
        for v in &values[10..1_010] {
            let e = reg.counter("rows", &[("handler", v.as_str())]).unwrap_err();
            assert!(matches!(
                e,
                Error::CardinalityLimit {
                    limit: 10,
                    scope: "family",
                    ..
                }
            ));
            black_box(e);
        }
    });
    // `Error::CardinalityLimit` shares the family's name: nothing allocated.
    assert_eq!((n, bytes), (0, 0));
    assert_eq!(reg.series_count(), 10);
}

#[test]
fn lookups_past_the_registry_limit_allocate_nothing() {
    let reg = Registry::builder().max_series(10).build();
    let values = values(1_011);
    for v in &values[..10] {
        reg.counter("rows", &[("handler", v)]).unwrap();
    }
    warm_up(&reg, &values[10]);
    let (n, bytes) = allocations(|| {
        for v in &values[11..] {
            reg.counter_or_overflow("rows", &[("handler", v.as_str())])
                .unwrap()
                .inc();
        }
    });
    assert_eq!((n, bytes), (0, 0), "1,000 overflowing lookups allocated");
    let (n, _) = allocations(|| {
        for v in &values[11..] {
            black_box(reg.counter("rows", &[("handler", v.as_str())]).unwrap_err());
        }
    });
    assert_eq!(
        n, 0,
        "refusals allocated (the error shares the family's name)"
    );
    // The self-metric is internal: exempt from the registry's limit.
    assert_eq!(reg.series_count(), 11);
    assert_eq!(total(&reg, OVERFLOW_METRIC, "metric=rows"), 1_002);
}

#[test]
fn an_attack_racing_to_the_limit_keeps_it_and_loses_nothing() {
    const LIMIT: usize = 16;
    const EXISTING: usize = 4;
    const ATTACKERS: usize = 3;
    const PER_ATTACKER: usize = 3_000;
    const STEADY: usize = 20_000;
    let reg = Registry::new();
    reg.register(Describe::counter("rows").max_series(LIMIT))
        .unwrap();
    let existing = values(EXISTING);
    for v in &existing {
        reg.counter("rows", &[("handler", v)]).unwrap();
    }
    // Every attacker label is new: each lookup either creates a series (while
    // there is room) or is sent to the overflow series.
    let attack: Vec<Vec<String>> = (0..ATTACKERS + 1)
        .map(|t| {
            (0..PER_ATTACKER)
                .map(|i| format!("attack-{t}-{i}"))
                .collect()
        })
        .collect();
    let start = Barrier::new(ATTACKERS + 2);
    let refused_ok = thread::scope(|s| {
        for labels in &attack[..ATTACKERS] {
            let (start, reg) = (&start, &reg);
            s.spawn(move || {
                start.wait();
                for v in labels {
                    reg.counter_or_overflow("rows", &[("handler", v.as_str())])
                        .unwrap()
                        .inc();
                }
            });
        }
        // Fallible lookups of new labels race the attackers for the room left.
        let refusing = s.spawn(|| {
            start.wait();
            let mut ok = 0u64;
            for v in &attack[ATTACKERS] {
                match reg.counter("rows", &[("handler", v.as_str())]) {
                    Ok(c) => {
                        c.inc();
                        ok += 1;
                    }
                    Err(Error::CardinalityLimit { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            ok
        });
        // Meanwhile the existing series are looked up and recorded into.
        start.wait();
        for i in 0..STEADY {
            let v = existing[i % EXISTING].as_str();
            reg.with_counter("rows", &[("handler", v)], |c| c.inc())
                .unwrap();
        }
        refusing.join().unwrap()
    });

    let all = counters(&reg);
    let rows: Vec<_> = all.iter().filter(|(f, _, _)| f == "rows").collect();
    let overflow_labels = format!("{OVERFLOW_LABEL}=true");
    let normal: Vec<_> = rows
        .iter()
        .filter(|(_, l, _)| *l != overflow_labels)
        .collect();
    assert_eq!(normal.len(), LIMIT, "the limit holds exactly");

    // The steady thread's recordings are all in the existing series.
    let steady: u64 = normal
        .iter()
        .filter(|(_, l, _)| existing.iter().any(|v| *l == format!("handler={v}")))
        .map(|(_, _, t)| t)
        .sum();
    assert_eq!(steady, STEADY as u64);

    // Each created series was recorded into once, by whoever created it.
    let created = LIMIT - EXISTING;
    for (_, l, t) in &normal {
        if l.starts_with("handler=attack-") {
            assert_eq!(*t, 1, "{l}");
        }
    }
    let by_attackers = created as u64 - refused_ok;
    let overflowed = (ATTACKERS * PER_ATTACKER) as u64 - by_attackers;
    assert_eq!(total(&reg, "rows", &overflow_labels), overflowed);
    assert_eq!(total(&reg, OVERFLOW_METRIC, "metric=rows"), overflowed);
    assert_eq!(reg.series_count(), LIMIT + 1, "and the self-metric");
}

#[test]
fn racing_to_the_registry_limit_keeps_it() {
    const LIMIT: usize = 12;
    const THREADS: usize = 4;
    const PER_THREAD: usize = 2_000;
    let reg = Registry::builder().max_series(LIMIT).build();
    let start = Barrier::new(THREADS);
    let labels: Vec<Vec<String>> = (0..THREADS)
        .map(|t| (0..PER_THREAD).map(|i| format!("v{t}-{i}")).collect())
        .collect();
    thread::scope(|s| {
        for (t, labels) in labels.iter().enumerate() {
            let (start, reg) = (&start, &reg);
            s.spawn(move || {
                start.wait();
                // Two families share the registry's room.
                let name = if t % 2 == 0 { "even" } else { "odd" };
                for v in labels {
                    reg.counter_or_overflow(name, &[("v", v.as_str())])
                        .unwrap()
                        .inc();
                }
            });
        }
    });
    let all = counters(&reg);
    let overflow_labels = format!("{OVERFLOW_LABEL}=true");
    let normal = all
        .iter()
        .filter(|(f, l, _)| f != OVERFLOW_METRIC && *l != overflow_labels)
        .count();
    assert_eq!(normal, LIMIT, "the registry's limit holds exactly");
    let recorded: u64 = all
        .iter()
        .filter(|(f, _, _)| f != OVERFLOW_METRIC)
        .map(|(_, _, t)| t)
        .sum();
    assert_eq!(recorded, (THREADS * PER_THREAD) as u64, "nothing lost");
    let counted: u64 = all
        .iter()
        .filter(|(f, _, _)| f == OVERFLOW_METRIC)
        .map(|(_, _, t)| t)
        .sum();
    assert_eq!(counted, (THREADS * PER_THREAD - LIMIT) as u64);
}
