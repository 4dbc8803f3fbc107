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
