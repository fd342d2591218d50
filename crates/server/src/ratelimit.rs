//! In-process token-bucket rate limiting, keyed by client IP (public reads) or by token id
//! (authenticated writes).
//!
//! One `std::sync::Mutex<HashMap>` per class: the critical section is a few arithmetic
//! operations and never spans an `.await`. The map is pruned of idle keys when it grows, so a
//! scan from many addresses cannot grow it without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Keys kept before idle buckets are pruned.
const PRUNE_AT: usize = 10_000;

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A family of token buckets with the same rate and burst.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `rate` tokens per second refill, up to `burst`. `rate == 0` disables limiting.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether limiting is off (rate 0): callers can skip building the key.
    pub fn is_disabled(&self) -> bool {
        self.rate == 0.0
    }

    /// Takes one token for `key` at time `now`; false = over the limit.
    pub fn check(&self, key: &str, now: Instant) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let Ok(mut map) = self.buckets.lock() else {
            // A poisoned lock means a panic elsewhere; fail open rather than take the API down.
            return true;
        };
        if map.len() >= PRUNE_AT {
            let (rate, burst) = (self.rate, self.burst);
            map.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let b = map.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
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
}
