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
    /// Connections and their refusals (see [`crate::conn`]).
    pub conn: ConnMetrics,
    /// Requests refused with 429, by bucket: cheap reads, expensive reads, writes.
    pub rate_limited: [AtomicU64; 3],
    /// Label-image cache: hits, misses (a render), bytes held.
    pub image_cache: [AtomicU64; 3],
}

/// Index into [`Metrics::rate_limited`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitClass {
    /// Cheap reads (checkpoint, tiles, page, documents).
    Read = 0,
    /// Expensive reads (label images, label views with proofs, status proofs).
    Heavy = 1,
    /// Writes (before authentication).
    Write = 2,
}

/// Connection counters and gauges.
#[derive(Default)]
pub struct ConnMetrics {
    /// Connections open now.
    pub open: AtomicU64,
    /// The connection cap in force.
    pub max: AtomicU64,
    /// Connections accepted and served.
    pub accepted: AtomicU64,
    /// Connections closed at once because the cap was reached.
    pub refused: AtomicU64,
    /// Connections closed for not delivering a request head in time (slowloris).
    pub header_timeouts: AtomicU64,
    /// Keep-alive connections closed after being idle too long.
    pub idle_timeouts: AtomicU64,
    /// Requests answered 408 because their body did not arrive in time (slow body).
    pub body_timeouts: AtomicU64,
    /// Errors from `accept` (e.g. out of file descriptors), each followed by a short pause.
    pub accept_errors: AtomicU64,
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
            conn: ConnMetrics::default(),
            rate_limited: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            image_cache: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
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
        self.render_limits(&mut out);
        out
    }

    /// Counts a 429 of `class`.
    pub fn limited(&self, class: LimitClass) {
        self.rate_limited[class as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn render_limits(&self, out: &mut String) {
        let r = Ordering::Relaxed;
        let c = &self.conn;
        for (name, kind, help, v) in [
            (
                "cyberlabel_connections_open",
                "gauge",
                "Connections open now.",
                &c.open,
            ),
            (
                "cyberlabel_connections_max",
                "gauge",
                "The connection cap in force.",
                &c.max,
            ),
            (
                "cyberlabel_connections_accepted_total",
                "counter",
                "Connections accepted and served.",
                &c.accepted,
            ),
            (
                "cyberlabel_connections_refused_total",
                "counter",
                "Connections closed at once because the connection cap was reached.",
                &c.refused,
            ),
            (
                "cyberlabel_accept_errors_total",
                "counter",
                "Errors from accept (e.g. out of file descriptors).",
                &c.accept_errors,
            ),
            (
                "cyberlabel_request_body_timeouts_total",
                "counter",
                "Requests answered 408 because the body did not arrive in time.",
                &c.body_timeouts,
            ),
            (
                "cyberlabel_image_cache_bytes",
                "gauge",
                "Bytes of rendered label images held in the cache.",
                &self.image_cache[2],
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                v.load(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP cyberlabel_connection_timeouts_total Connections closed by a timeout, by phase.\n\
             # TYPE cyberlabel_connection_timeouts_total counter\n\
             cyberlabel_connection_timeouts_total{{phase=\"header\"}} {}\n\
             cyberlabel_connection_timeouts_total{{phase=\"idle\"}} {}",
            c.header_timeouts.load(r),
            c.idle_timeouts.load(r)
        );
        let _ = writeln!(
            out,
            "# HELP cyberlabel_rate_limited_total Requests refused with 429, by bucket.\n\
             # TYPE cyberlabel_rate_limited_total counter"
        );
        for (class, v) in ["read", "heavy", "write"].iter().zip(&self.rate_limited) {
            let _ = writeln!(
                out,
                "cyberlabel_rate_limited_total{{class=\"{class}\"}} {}",
                v.load(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP cyberlabel_image_cache_requests_total Label-image requests by cache result.\n\
             # TYPE cyberlabel_image_cache_requests_total counter\n\
             cyberlabel_image_cache_requests_total{{result=\"hit\"}} {}\n\
             cyberlabel_image_cache_requests_total{{result=\"miss\"}} {}",
            self.image_cache[0].load(r),
            self.image_cache[1].load(r)
        );
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
