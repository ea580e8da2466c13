//! The connection guard's HTTP/1 framing (src/http/framing.rs): request heads parsed with our
//! limits, bodies framed by Content-Length or chunked encoding, over any split of the bytes.
//! Input: one byte choosing the read size, then the bytes of a connection.
//!
//! Checks: what passes is a prefix of the input, in order, whatever the split; a refusal is
//! final and comes at the same point for every split; the framer never holds more unchecked
//! head bytes than its limit plus one read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use libres3::http::framing::{Framer, Limits, Step, MAX_HEAD_CAP};

/// Runs the framer over `input` in reads of `piece` bytes, as the guard does: what it
/// passed on, and whether it refused.
fn run(input: &[u8], piece: usize) -> (usize, bool) {
    let mut framer = Framer::new(Limits { header_bytes: 8192 });
    let mut pending: Vec<u8> = Vec::new();
    let mut passed = 0;
    for part in input.chunks(piece) {
        pending.extend_from_slice(part);
        loop {
            match framer.step(&pending) {
                Step::Pass(n) => {
                    assert!(
                        n > 0 && n <= pending.len(),
                        "passed {n} of {}",
                        pending.len()
                    );
                    pending.drain(..n);
                    passed += n;
                }
                Step::NeedMore => break,
                Step::Reject(_) => return (passed, true),
            }
        }
        assert!(
            pending.len() <= MAX_HEAD_CAP + piece,
            "{} unchecked bytes held",
            pending.len()
        );
    }
    (passed, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, input)) = data.split_first() else {
        return;
    };
    let piece = usize::from(choice % 64) + 1;
    let whole = run(input, input.len().max(1));
    let split = run(input, piece);
    // A refusal (or none) does not depend on how the bytes arrived; without one, a split can
    // only leave the last, still incomplete, head behind.
    assert_eq!(whole.1, split.1, "refused in one split only");
    if whole.1 {
        assert_eq!(whole.0, split.0, "refused at another point");
    } else {
        assert_eq!(whole.0, split.0, "passed a different prefix");
    }
});
