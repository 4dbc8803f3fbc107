//! Benchmarks of lakemetrics against its peers; see `benches/`.
