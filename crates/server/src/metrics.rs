//! Prometheus metrics, rendered by hand in the text exposition format (v0.0.4): a few atomics
//! and fixed-bucket histograms do not justify a metrics framework.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A histogram with fixed upper bounds.
pub struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum in millionths, to stay in integer atomics.
    sum_micros: AtomicU64,
}

impl Histogram {
    /// A histogram with the given ascending bucket upper bounds (+Inf is implicit).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            if v <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        // Truncation is fine: metrics, not accounting.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.sum_micros
            .fetch_add((v.max(0.0) * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {n}");
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {n}");
    }
}

/// The server's metrics.
pub struct Metrics {
    /// Labels issued (mint, bulk and renew), acknowledged durable.
    pub labels_issued: AtomicU64,
    /// Status changes acknowledged, by action: suspend, reinstate, revoke.
    pub status_changes: [AtomicU64; 3],
    /// Requests refused with 4xx for validation/auth reasons.
    pub rejected: AtomicU64,
    /// Entries per committed batch (as reported by the log).
    pub batch_size: Histogram,
    /// Seconds from submission to durable acknowledgement of one log entry.
    pub commit_latency: Histogram,
    /// Current tree size (set on every acknowledgement and checkpoint read).
    pub tree_size: AtomicU64,
    /// (time, labels issued) samples for the issuance-rate gauge.
    rate_window: Mutex<(Instant, u64, f64)>,
    /// Per-witness submission counters and gauges (see [`WitnessStats`]), by witness name.
    pub witnesses: Mutex<std::collections::BTreeMap<String, WitnessStats>>,
    /// Seconds per add-checkpoint request to a witness (any outcome).
    pub witness_latency: Histogram,
}

/// Witness submission statistics of one witness.
#[derive(Debug, Default, Clone)]
pub struct WitnessStats {
    /// Checkpoints cosigned (200 and the cosignature attached).
    pub ok: u64,
    /// 409 `text/x.tlog.size` answers (the log resynchronised to the witness's size).
    pub resync: u64,
    /// Submissions given up (network errors after retries, refusals, bad cosignatures).
    pub failed: u64,
    /// Tree size of the latest cosignature from this witness.
    pub cosigned_size: u64,
    /// Unix time of the latest cosignature from this witness.
    pub last_cosigned_unix: u64,
}

/// Prometheus label values: escape backslash, quote and newline.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

const BATCH_BOUNDS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];
const LATENCY_BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

impl Default for Metrics {
    fn default() -> Self {
        Self {
            labels_issued: AtomicU64::new(0),
            status_changes: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            rejected: AtomicU64::new(0),
            batch_size: Histogram::new(BATCH_BOUNDS),
            commit_latency: Histogram::new(LATENCY_BOUNDS),
            tree_size: AtomicU64::new(0),
            rate_window: Mutex::new((Instant::now(), 0, 0.0)),
            witnesses: Mutex::new(std::collections::BTreeMap::new()),
            witness_latency: Histogram::new(LATENCY_BOUNDS),
        }
    }
}

impl Metrics {
    /// Updates the statistics of witness `name`.
    pub fn witness(&self, name: &str, f: impl FnOnce(&mut WitnessStats)) {
        let mut map = match self.witnesses.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(map.entry(name.to_owned()).or_default());
    }

    fn render_witnesses(&self, out: &mut String) {
        let map = match self.witnesses.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        };
        let _ = writeln!(
            out,
            "# HELP cyberlabel_witness_submissions_total Checkpoint submissions to witnesses, by outcome.\n\
             # TYPE cyberlabel_witness_submissions_total counter"
        );
        for (name, st) in &map {
            let n = label_value(name);
            for (result, v) in [("ok", st.ok), ("resync", st.resync), ("failed", st.failed)] {
                let _ = writeln!(
                    out,
                    "cyberlabel_witness_submissions_total{{witness=\"{n}\",result=\"{result}\"}} {v}"
                );
            }
        }
        let gauge =
            |out: &mut String, name: &str, help: &str, value: &dyn Fn(&WitnessStats) -> u64| {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
                for (witness, st) in &map {
                    let _ = writeln!(
                        out,
                        "{name}{{witness=\"{}\"}} {}",
                        label_value(witness),
                        value(st)
                    );
                }
            };
        gauge(
            out,
            "cyberlabel_witness_cosigned_size",
            "Tree size of the latest cosignature per witness.",
            &|st| st.cosigned_size,
        );
        gauge(
            out,
            "cyberlabel_witness_last_cosignature_timestamp_seconds",
            "Unix time of the latest cosignature per witness.",
            &|st| st.last_cosigned_unix,
        );
        self.witness_latency.render(
            out,
            "cyberlabel_witness_request_seconds",
            "Time of one add-checkpoint request to a witness (any outcome).",
        );
    }

    /// Issuance rate in labels/s, averaged over at least the last 10 s between scrapes.
    fn issue_rate(&self) -> f64 {
        let issued = self.labels_issued.load(Ordering::Relaxed);
        let Ok(mut w) = self.rate_window.lock() else {
            return 0.0;
        };
        let elapsed = w.0.elapsed().as_secs_f64();
        if elapsed >= 10.0 {
            #[allow(clippy::cast_precision_loss)]
            let rate = issued.saturating_sub(w.1) as f64 / elapsed;
            *w = (Instant::now(), issued, rate);
        }
        w.2
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let r = Ordering::Relaxed;
        let _ = writeln!(
            out,
            "# HELP cyberlabel_labels_issued_total Labels issued (mint, bulk, renew), durably logged.\n\
             # TYPE cyberlabel_labels_issued_total counter\ncyberlabel_labels_issued_total {}",
            self.labels_issued.load(r)
        );
        let _ = writeln!(
            out,
            "# HELP cyberlabel_issue_rate Labels issued per second, averaged over >=10 s.\n\
             # TYPE cyberlabel_issue_rate gauge\ncyberlabel_issue_rate {}",
            self.issue_rate()
        );
        let _ = writeln!(
            out,
            "# HELP cyberlabel_status_changes_total Status changes durably logged.\n\
             # TYPE cyberlabel_status_changes_total counter"
        );
        for (name, c) in ["suspend", "reinstate", "revoke"]
            .iter()
            .zip(&self.status_changes)
        {
            let _ = writeln!(
                out,
                "cyberlabel_status_changes_total{{action=\"{name}\"}} {}",
                c.load(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP cyberlabel_rejected_requests_total Mutating requests refused (auth, validation, limits).\n\
             # TYPE cyberlabel_rejected_requests_total counter\ncyberlabel_rejected_requests_total {}",
            self.rejected.load(r)
        );
        self.batch_size.render(
            &mut out,
            "cyberlabel_batch_size",
            "Entries per committed log batch.",
        );
        self.commit_latency.render(
            &mut out,
            "cyberlabel_commit_latency_seconds",
            "Time from submission to durable acknowledgement of a log entry.",
        );
        let _ = writeln!(
            out,
            "# HELP cyberlabel_tree_size Entries in the transparency log.\n\
             # TYPE cyberlabel_tree_size gauge\ncyberlabel_tree_size {}",
            self.tree_size.load(r)
        );
        self.render_witnesses(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.batch_size.observe(3.0);
        m.batch_size.observe(300.0);
        let text = m.render();
        assert!(text.contains("cyberlabel_batch_size_bucket{le=\"2\"} 0"));
        assert!(text.contains("cyberlabel_batch_size_bucket{le=\"4\"} 1"));
        assert!(text.contains("cyberlabel_batch_size_bucket{le=\"512\"} 2"));
        assert!(text.contains("cyberlabel_batch_size_count 2"));
        assert!(text.contains("cyberlabel_batch_size_sum 303"));
    }
}
