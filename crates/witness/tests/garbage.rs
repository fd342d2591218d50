//! Nothing panics on input: thousands of mutated add-checkpoint bodies (bit flips, truncations,
//! spliced bytes) through `Witness::add_checkpoint` only ever give a 2xx/4xx outcome, never a
//! panic or a 500, and never move the stored state except through a valid submission.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{ORIGIN, TestLog, tempdir, witness_signer};
use cyberlabel_witness::{Store, Witness};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_bodies_never_panic_or_500() {
    let (_d, dir) = tempdir();
    let log = TestLog::new(ORIGIN, 1, 1024);
    let store = Store::open(&dir.join("db")).unwrap();
    let w = Witness::new(witness_signer(9), &[log.vkey()], store).unwrap();
    w.add_checkpoint(log.body(0, 10).as_bytes(), 1).unwrap();
    // The valid body for the current state: from the stored size to 7 leaves more.
    let mut bodies = std::collections::HashMap::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut outcomes = std::collections::BTreeMap::new();
    for _ in 0..3000 {
        let cur = w.store().latest(ORIGIN).unwrap().unwrap().size;
        let next = (cur + 7).min(1024);
        let mut b = bodies
            .entry(cur)
            .or_insert_with(|| log.body(cur, next).into_bytes())
            .clone();
        match rng.below(4) {
            0 => {
                for _ in 0..=rng.below(4) {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
            1 => b.truncate(rng.below(b.len())),
            2 => {
                let i = rng.below(b.len());
                let byte = [b'\n', b' ', b'+', b'=', 0, 0xff, b'0'][rng.below(7)];
                b.insert(i, byte);
            }
            _ => {
                let i = rng.below(b.len());
                b.drain(i..(i + rng.below(8)).min(b.len()));
            }
        }
        let status = match w.add_checkpoint(&b, 2) {
            Ok(_) => 200,
            Err(e) => e.status(),
        };
        assert!(
            [200, 400, 403, 404, 409, 422].contains(&status),
            "{status} for {:?}",
            String::from_utf8_lossy(&b)
        );
        *outcomes.entry(status).or_insert(0u32) += 1;
        // A 200 can only be for the log's real checkpoint of size `next` (a mutation that
        // changed nothing signed, e.g. in the unsigned proof's padding), or a re-cosign of `cur`.
        let size = w.store().latest(ORIGIN).unwrap().unwrap().size;
        assert!(
            size == cur || (size == next && status == 200),
            "stored size {size}"
        );
    }
    eprintln!("outcomes: {outcomes:?}");
    assert!(outcomes.len() >= 5, "{outcomes:?}");
}
