//! In-process token-bucket rate limiting, keyed by client IP (reads and writes alike: the
//! write limiter runs before authentication, so nothing client-chosen such as a token id may
//! widen the key space).
//!
//! One `std::sync::Mutex<HashMap>` per class: the critical section is a few arithmetic
//! operations and never spans an `.await`. The map holds at most [`MAX_KEYS`] buckets: when
//! full, idle (refilled) buckets are pruned, and if none is idle the least recently used one is
//! evicted, so a scan from many addresses costs bounded memory (at worst it resets the oldest
//! bucket, i.e. grants that address a fresh burst).
//!
//! A request may cost more than one token ([`RateLimiter::check_n`]): the expensive-read
//! bucket charges a label image (a render, ~11 ms of CPU on a miss) ten times a proof, so one
//! bucket expresses both without a limiter per route.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Most buckets kept at once.
pub const MAX_KEYS: usize = 10_000;

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A family of token buckets with the same rate and burst.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `rate` tokens per second refill, up to `burst`. `rate == 0` disables limiting.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self::with_max_keys(rate, burst, MAX_KEYS)
    }

    fn with_max_keys(rate: u32, burst: u32, max_keys: usize) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Buckets currently held.
    pub fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |m| m.len())
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether limiting is off (rate 0): callers can skip building the key.
    pub fn is_disabled(&self) -> bool {
        self.rate == 0.0
    }

    /// Takes one token for `key` at time `now`; false = over the limit.
    pub fn check(&self, key: &str, now: Instant) -> bool {
        self.check_n(key, 1, now)
    }

    /// Takes `cost` tokens for `key` at time `now`; false = over the limit (nothing taken). A
    /// cost above the burst is charged as the whole burst, so a small configured burst slows
    /// an expensive route down rather than closing it.
    pub fn check_n(&self, key: &str, cost: u32, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let Ok(mut map) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; fail open rather than take the API down.
            return true;
        };
        if map.len() >= self.max_keys && !map.contains_key(key) {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < burst
            });
            if map.len() >= self.max_keys {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, b)| b.last)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    map.remove(&k);
                }
            }
        }
        let b = map.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        let cost = f64::from(cost.max(1)).min(self.burst);
        if b.tokens >= cost {
            b.tokens -= cost;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills() {
        let rl = RateLimiter::new(10, 3);
        let t0 = Instant::now();
        assert!(rl.check("a", t0) && rl.check("a", t0) && rl.check("a", t0));
        assert!(!rl.check("a", t0));
        assert!(rl.check("b", t0), "keys are independent");
        assert!(rl.check("a", t0 + Duration::from_millis(100)));
        assert!(!rl.check("a", t0 + Duration::from_millis(100)));
        assert!(RateLimiter::new(0, 0).check("x", t0));
    }

    /// The write limiter as the server builds it (`Config::default()`'s write rate and burst),
    /// driven by an injected clock: the burst, then exactly the configured rate, never more than
    /// the burst after idling, nothing for a clock that goes backwards, and a per-client bucket.
    #[test]
    fn write_limiter_enforces_its_rate_and_burst() {
        let cfg = crate::Config::default();
        let (rate, burst) = (cfg.write_rps, cfg.write_burst);
        assert!(rate > 0 && burst > 1, "the write limiter is on by default");
        let rl = RateLimiter::new(rate, burst);
        let t0 = Instant::now();
        // the burst, all at one instant, then refusal
        let granted = (0..burst * 2).filter(|_| rl.check("10.0.0.1", t0)).count();
        assert_eq!(granted, burst as usize);
        assert!(!rl.check("10.0.0.1", t0));
        // another client is not affected
        assert!(rl.check("10.0.0.2", t0));
        // one token per 1/rate seconds: none just before, one at
        let tick = Duration::from_secs(1) / rate;
        assert!(!rl.check("10.0.0.1", t0 + tick / 2));
        assert!(rl.check("10.0.0.1", t0 + tick));
        assert!(!rl.check("10.0.0.1", t0 + tick));
        // a clock that goes backwards grants nothing
        assert!(!rl.check("10.0.0.1", t0));
        // sustained: trying every millisecond for 10 s gets rate × 10 (± the rounding of one
        // token), not more
        let start = t0 + tick;
        let mut granted = 0u32;
        for ms in 1..=10_000u64 {
            if rl.check("10.0.0.1", start + Duration::from_millis(ms)) {
                granted += 1;
            }
        }
        assert!(
            (rate * 10 - 1..=rate * 10).contains(&granted),
            "{granted} writes granted in 10 s at {rate}/s"
        );
        // after an hour idle: the burst again, not an hour's worth of tokens
        let later = start + Duration::from_secs(3_600);
        let granted = (0..burst * 2)
            .filter(|_| rl.check("10.0.0.1", later))
            .count();
        assert_eq!(granted, burst as usize);
    }

    #[test]
    fn costs_are_weighed() {
        let rl = RateLimiter::new(10, 20);
        let t0 = Instant::now();
        assert!(rl.check_n("a", 10, t0) && rl.check_n("a", 10, t0));
        assert!(!rl.check_n("a", 10, t0), "burst of 20 = two costs of 10");
        assert!(!rl.check("a", t0));
        // one second refills 10 tokens: one more expensive request, then nothing
        let t1 = t0 + Duration::from_secs(1);
        assert!(rl.check_n("a", 10, t1) && !rl.check("a", t1));
        // a cost above the burst is charged as the burst (never refused forever)
        assert!(rl.check_n("b", 1000, t0) && !rl.check("b", t0));
    }

    #[test]
    fn map_is_bounded() {
        let rl = RateLimiter::with_max_keys(1, 5, 100);
        let t0 = Instant::now();
        for i in 0..1_000 {
            // no time passes: no bucket is idle, so only eviction keeps the map bounded
            assert!(rl.check(&format!("10.0.{}.{}", i / 256, i % 256), t0));
            assert!(rl.len() <= 100, "{} buckets after {i}", rl.len());
        }
        assert_eq!(rl.len(), 100);
        // a busy key that keeps being used survives the churn of others
        let rl = RateLimiter::with_max_keys(1, 2, 10);
        assert!(rl.check("busy", t0) && rl.check("busy", t0));
        for i in 0..50u32 {
            let t = t0 + Duration::from_micros(2 * u64::from(i) + 1);
            rl.check(&format!("scan{i}"), t);
            let t = t + Duration::from_micros(1);
            assert!(!rl.check("busy", t), "busy bucket was evicted at {i}");
        }
    }
}
