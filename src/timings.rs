//! Phase timings on stderr when `THREATMARK_TIMINGS` is set: where a run's wall time goes,
//! without a profiler (docs/performance.md). Only the IO shell calls [`mark`]; the pure core
//! never prints.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Option<Instant>> = OnceLock::new();

/// Start the clock (first call wins); a no-op unless `THREATMARK_TIMINGS` is set.
pub(crate) fn start() {
    START.get_or_init(|| std::env::var_os("THREATMARK_TIMINGS").map(|_| Instant::now()));
}

/// Print the time since [`start`] and `phase`.
pub(crate) fn mark(phase: &str) {
    if let Some(Some(t0)) = START.get() {
        eprintln!(
            "threatmark timings: {:>8.2} ms  {phase}",
            t0.elapsed().as_secs_f64() * 1e3
        );
    }
}
