//! Counters of the receiver and the event writer, rendered at `/metrics`
//! in the Prometheus text format.

use std::{
    collections::BTreeMap,
    fmt::Write,
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Mutex,
    },
};

/// Upper bounds of the commit batch size histogram.
const BATCH_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    duplicates: AtomicU64,
    malformed: AtomicU64,
    commit_failures: AtomicU64,
    /// Refused deliveries by reason. Refusals are rare next to acceptances,
    /// so a lock is fine here.
    refused: Mutex<BTreeMap<&'static str, u64>>,
    batch_buckets: [AtomicU64; BATCH_BUCKETS.len()],
    batch_count: AtomicU64,
    batch_sum: AtomicU64,
    commit_micros: AtomicU64,
    checkpoint_rounds: AtomicU64,
}

impl Metrics {
    pub fn count_accepted(&self, duplicate: bool, malformed: bool) {
        let counter = if duplicate {
            &self.duplicates
        } else {
            &self.accepted
        };
        counter.fetch_add(1, Relaxed);
        if malformed && !duplicate {
            self.malformed.fetch_add(1, Relaxed);
        }
    }

    pub fn count_refused(&self, reason: &'static str) {
        let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        *refused.entry(reason).or_default() += 1;
    }

    pub fn count_commit_failure(&self) {
        self.commit_failures.fetch_add(1, Relaxed);
    }

    /// One commit of the event writer: its size and how long it took.
    pub fn observe_commit(&self, size: usize, took: std::time::Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.commit_micros.fetch_add(micros, Relaxed);
        self.observe_commit_batch(size);
    }

    /// One background WAL checkpoint round done.
    pub fn count_checkpoint_round(&self) {
        self.checkpoint_rounds.fetch_add(1, Relaxed);
    }

    pub fn checkpoint_rounds(&self) -> u64 {
        self.checkpoint_rounds.load(Relaxed)
    }

    /// Commits so far, their mean size and mean duration.
    pub fn commit_summary(&self) -> (u64, f64, std::time::Duration) {
        let count = self.batch_count.load(Relaxed);
        let per = |total: u64| total as f64 / count.max(1) as f64;
        let mean_size = per(self.batch_sum.load(Relaxed));
        let mean_micros = per(self.commit_micros.load(Relaxed));
        (
            count,
            mean_size,
            std::time::Duration::from_secs_f64(mean_micros / 1e6),
        )
    }

    fn observe_commit_batch(&self, size: usize) {
        let size = size as u64;
        for (bound, bucket) in BATCH_BUCKETS.iter().zip(&self.batch_buckets) {
            if size <= *bound {
                bucket.fetch_add(1, Relaxed);
            }
        }
        self.batch_count.fetch_add(1, Relaxed);
        self.batch_sum.fetch_add(size, Relaxed);
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            "whats91_deliveries_accepted_total",
            "Deliveries stored as new events.",
            self.accepted.load(Relaxed),
        );
        counter(
            "whats91_deliveries_duplicate_total",
            "Redeliveries of an already stored body.",
            self.duplicates.load(Relaxed),
        );
        counter(
            "whats91_deliveries_malformed_total",
            "Stored deliveries flagged malformed.",
            self.malformed.load(Relaxed),
        );
        counter(
            "whats91_commit_failures_total",
            "Event log commits that failed (deliveries answered 503).",
            self.commit_failures.load(Relaxed),
        );
        counter(
            "whats91_wal_checkpoint_rounds_total",
            "Background rounds copying the WAL into the database file.",
            self.checkpoint_rounds(),
        );

        let name = "whats91_deliveries_refused_total";
        let _ = writeln!(out, "# HELP {name} Deliveries refused, by reason.");
        let _ = writeln!(out, "# TYPE {name} counter");
        let refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
        for (reason, value) in refused.iter() {
            let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {value}");
        }

        let name = "whats91_commit_batch_size";
        let _ = writeln!(out, "# HELP {name} Deliveries and rejections per commit.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (bound, bucket) in BATCH_BUCKETS.iter().zip(&self.batch_buckets) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Relaxed)
            );
        }
        let count = self.batch_count.load(Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum {}", self.batch_sum.load(Relaxed));
        let _ = writeln!(out, "{name}_count {count}");

        let name = "whats91_commit_seconds_total";
        let _ = writeln!(out, "# HELP {name} Time spent committing the event log.");
        let _ = writeln!(out, "# TYPE {name} counter");
        let seconds = self.commit_micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name} {seconds}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes_fall_into_cumulative_buckets() {
        let metrics = Metrics::default();
        let took = std::time::Duration::from_millis(2);
        metrics.observe_commit(1, took);
        metrics.observe_commit(3, took);
        metrics.observe_commit(600, took);
        let text = metrics.render();
        assert!(
            text.contains("whats91_commit_batch_size_bucket{le=\"1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("whats91_commit_batch_size_bucket{le=\"4\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("whats91_commit_batch_size_bucket{le=\"512\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("whats91_commit_batch_size_bucket{le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("whats91_commit_batch_size_sum 604\n"),
            "{text}"
        );
    }

    #[test]
    fn refusals_are_counted_per_reason() {
        let metrics = Metrics::default();
        metrics.count_refused("signature_mismatch");
        metrics.count_refused("signature_mismatch");
        metrics.count_refused("unknown_destination");
        metrics.count_accepted(false, true);
        metrics.count_accepted(true, true);
        let text = metrics.render();
        assert!(
            text.contains("reason=\"signature_mismatch\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("reason=\"unknown_destination\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("whats91_deliveries_accepted_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("whats91_deliveries_duplicate_total 1\n"),
            "{text}"
        );
        assert!(
            text.contains("whats91_deliveries_malformed_total 1\n"),
            "{text}"
        );
    }
}
