//! The per-thread lookup cache is keyed by addresses but answers by contents.

use lakemetrics_core::{Filter, Registry};

#[test]
fn a_reused_buffer_with_other_text_finds_its_own_series() {
    let reg = Registry::new();
    let mut value = String::with_capacity(32);
    let mut name = String::with_capacity(32);
    for (n, v) in [
        ("rows", "csv"),
        ("rows", "tsv"),
        ("rowz", "tsv"),
        ("rows", "csv"),
    ] {
        name.clear();
        name.push_str(n);
        value.clear();
        value.push_str(v);
        // Same addresses every time; different contents.
        let labels = [("handler", value.as_str())];
        for _ in 0..2 {
            reg.counter(&name, &labels).unwrap().inc();
            reg.with_counter(&name, &labels, |c| c.inc()).unwrap();
        }
    }
    assert_eq!(reg.counter("rows", &[("handler", "csv")]).unwrap().get(), 8);
    assert_eq!(reg.counter("rows", &[("handler", "tsv")]).unwrap().get(), 4);
    assert_eq!(reg.counter("rowz", &[("handler", "tsv")]).unwrap().get(), 4);
}

#[test]
fn one_slice_holding_different_literals_finds_each_series() {
    // Literals are confirmed by their addresses: a slice at one address that
    // holds another literal (or a heap copy of the same text) each time must
    // still find the series of what it holds.
    let reg = Registry::new();
    let copy = String::from("csv");
    let mut labels = [("handler", "csv")];
    for v in ["csv", "tsv", "csv", "json", copy.as_str(), "csv", ""] {
        labels[0].1 = v;
        for _ in 0..2 {
            reg.with_counter("rows", &labels, |c| c.inc()).unwrap();
            reg.counter("rows", &labels).unwrap().inc();
        }
    }
    let get = |v| reg.counter("rows", &[("handler", v)]).unwrap().get();
    assert_eq!(
        (get("csv"), get("tsv"), get("json"), get("")),
        (16, 4, 4, 4)
    );
}

#[test]
fn the_same_slice_reordered_in_place_is_the_same_series() {
    let reg = Registry::new();
    let mut labels = [("a", "1"), ("b", "2")];
    reg.with_counter("m", &labels, |c| c.inc()).unwrap();
    labels.swap(0, 1);
    reg.with_counter("m", &labels, |c| c.inc()).unwrap();
    labels[0].1 = "3";
    reg.with_counter("m", &labels, |c| c.inc()).unwrap();
    let mut n = 0;
    reg.visit(&Filter::all(), |f| n += f.series().count());
    assert_eq!(n, 2);
    assert_eq!(
        reg.counter("m", &[("a", "1"), ("b", "2")]).unwrap().get(),
        2
    );
}

#[test]
fn kinds_and_registries_do_not_mix() {
    let a = Registry::new();
    let b = Registry::new();
    let labels = [("h", "x")];
    for _ in 0..3 {
        a.with_counter("m", &labels, |c| c.inc()).unwrap();
        b.with_counter("m", &labels, |c| c.inc_by(10)).unwrap();
        assert!(a.with_gauge("m", &labels, |g| g.set(1.0)).is_err());
    }
    assert_eq!(a.counter("m", &labels).unwrap().get(), 3);
    assert_eq!(b.counter("m", &labels).unwrap().get(), 30);
}

#[test]
fn a_registry_made_where_a_dropped_one_was_finds_only_its_own_series() {
    // A thread remembers the cache it probed last (by a number unique to each
    // registry, not by address): a new registry, often allocated where the
    // dropped one was, must not be answered from the old one's slots, on this
    // thread or on one that used both.
    let check = || {
        let labels = [("h", "x")];
        for round in 1..=3u64 {
            let reg = Registry::new();
            for _ in 0..round {
                reg.with_counter("m", &labels, |c| c.inc()).unwrap();
                reg.with_counter_static("s", &[("h", "x")], |c| c.inc())
                    .unwrap();
            }
            assert_eq!(reg.counter("m", &labels).unwrap().get(), round);
            assert_eq!(reg.counter("s", &[("h", "x")]).unwrap().get(), round);
        }
    };
    check();
    std::thread::spawn(check).join().unwrap();
    // Two registries alternating on one thread, the last-probed one switching
    // on every call.
    let labels = [("h", "x")];
    let (a, b) = (Registry::new(), Registry::new());
    for _ in 0..5 {
        a.with_counter("m", &labels, |c| c.inc()).unwrap();
        b.with_counter("m", &labels, |c| c.inc_by(2)).unwrap();
    }
    drop(b);
    a.with_counter("m", &labels, |c| c.inc()).unwrap();
    assert_eq!(a.counter("m", &labels).unwrap().get(), 6);
}

#[test]
fn static_call_sites_find_their_series() {
    let reg = Registry::new();
    for _ in 0..5 {
        reg.with_counter_static("m", &[("handler", "csv"), ("status", "ok")], |c| c.inc())
            .unwrap();
        reg.with_counter_static("m", &[("status", "ok"), ("handler", "csv")], |c| c.inc())
            .unwrap();
        reg.with_counter_static("m", &[("handler", "json"), ("status", "ok")], |c| c.inc())
            .unwrap();
    }
    assert_eq!(
        reg.counter("m", &[("handler", "csv"), ("status", "ok")])
            .unwrap()
            .get(),
        10
    );
    assert_eq!(
        reg.counter("m", &[("handler", "json"), ("status", "ok")])
            .unwrap()
            .get(),
        5
    );
    assert!(reg
        .with_gauge_static("m", &[("handler", "csv"), ("status", "ok")], |_| ())
        .is_err());
}

#[test]
fn a_static_call_never_trusts_an_entry_a_borrowed_call_left() {
    let reg = Registry::new();
    // A borrowed call leaves an entry keyed by a heap buffer's address...
    let value = String::from("csv");
    let labels = vec![("handler", value.as_str())];
    reg.with_counter("m", &labels, |c| c.inc()).unwrap();
    let addr = (value.as_ptr() as usize, labels.as_ptr() as usize);
    drop(labels);
    drop(value);
    // ...then the memory may be reused and leaked as 'static with other text.
    let leaked: &'static str = Box::leak(String::from("tsv").into_boxed_str());
    let leaked_labels: &'static [(&'static str, &'static str)] =
        Box::leak(vec![("handler", leaked)].into_boxed_slice());
    let reused = (leaked.as_ptr() as usize, leaked_labels.as_ptr() as usize) == addr;
    reg.with_counter_static("m", leaked_labels, |c| c.inc_by(10))
        .unwrap();
    assert_eq!(
        reg.counter("m", &[("handler", "csv")]).unwrap().get(),
        1,
        "reused={reused}"
    );
    assert_eq!(reg.counter("m", &[("handler", "tsv")]).unwrap().get(), 10);
}
