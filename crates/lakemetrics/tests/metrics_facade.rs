//! `lakemetrics::metrics`: the recorder behind the `metrics` facade, installed in
//! one line. Its own test binary: `metrics` keeps one global recorder per process.

use lakemetrics::{Filter, Registry};

#[test]
fn one_line_install_and_the_macros_land_in_the_registry() {
    let reg = Registry::new();
    lakemetrics::metrics::install(&reg).unwrap();
    assert_eq!(
        lakemetrics::metrics::install(&reg),
        Err(lakemetrics::metrics::Error::AlreadyInstalled)
    );

    metrics::describe_counter!("jobs_total", "Jobs run.");
    metrics::counter!("jobs_total", "queue" => "default").increment(2);
    metrics::gauge!("workers").set(4.0);
    metrics::histogram!("job_seconds").record(0.2);

    assert_eq!(
        reg.counter("jobs_total", &[("queue", "default")])
            .unwrap()
            .get(),
        2
    );
    assert_eq!(reg.gauge("workers", &[]).unwrap().get(), 4.0);
    assert_eq!(
        reg.histogram("job_seconds", &[])
            .unwrap()
            .snapshot()
            .count(),
        1
    );
    let mut text = Vec::new();
    lakemetrics::export::write_prometheus(&reg, &Filter::all(), &mut text).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("# HELP jobs_total Jobs run.\n"), "{text}");
}
