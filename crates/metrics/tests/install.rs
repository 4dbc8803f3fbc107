//! Installing the global recorder. `metrics` keeps one global recorder per
//! process, so this file is its own test binary with this one test.

use lakemetrics_core::Registry;
use lakemetrics_metrics::Error;

#[test]
fn second_install_is_a_typed_error_and_the_first_keeps_recording() {
    let reg = Registry::new();
    lakemetrics_metrics::install(&reg).unwrap();

    let other = Registry::new();
    let err = lakemetrics_metrics::install(&other).unwrap_err();
    assert_eq!(err, Error::AlreadyInstalled);
    assert!(
        err.to_string().contains("already installed"),
        "message says what happened: {err}"
    );
    let err = lakemetrics_metrics::LakemetricsRecorder::builder(&other)
        .install()
        .unwrap_err();
    assert_eq!(err, Error::AlreadyInstalled);

    metrics::counter!("installed_total", "try" => "first").increment(2);
    assert_eq!(
        reg.counter("installed_total", &[("try", "first")])
            .unwrap()
            .get(),
        2
    );
    assert_eq!(
        other.family_count(),
        0,
        "the refused recorder records nothing"
    );
}
