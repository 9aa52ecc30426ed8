//! What decoding an `events` frame of transcript lines costs the relay, and encoding it costs
//! `cr`, per line: `cargo run --release -p cr-proto --example decode_cost`.

#![allow(clippy::print_stdout)]

use std::time::Instant;

use cr_proto::{Event, Numbered, Timestamp, Uplink};

fn main() {
    let text = |seq: u64| {
        format!("{seq:08} the relay stores every line of output while the phone watches")
    };
    let at = Timestamp(1_795_000_000_000);
    let one_by_one = (1..=1500u64)
        .map(|seq| Numbered { seq, event: Event::Line { at, line: text(seq) } })
        .collect();
    let run = vec![Numbered {
        seq: 1,
        event: Event::Lines { at, lines: (1..=1500).map(text).collect() },
    }];
    let rounds = 200;
    let ns_per_line = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..rounds {
            f();
        }
        start.elapsed().as_secs_f64() * 1e9 / f64::from(rounds) / 1500.0
    };
    for (what, events) in [("a `line` event per line", one_by_one), ("one `lines` event", run)] {
        let msg = Uplink::Events { events };
        let frame = msg.to_json();
        let decode = ns_per_line(&mut || {
            let up: Uplink = serde_json::from_slice(&frame).expect("parses");
            std::hint::black_box(up);
        });
        let encode = ns_per_line(&mut || drop(std::hint::black_box(msg.to_json())));
        let serde = ns_per_line(&mut || {
            drop(std::hint::black_box(serde_json::to_vec(&msg).expect("serializes")));
        });
        println!(
            "{what}: decoded in {decode:.0} ns per line, encoded in {encode:.0} ns \
             (serde_json: {serde:.0} ns) ({} bytes per frame of 1500 lines)",
            frame.len()
        );
    }
}
