//! What decoding an `events` frame of transcript lines costs the relay, per line:
//! `cargo run --release -p cr-proto --example decode_cost`.

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
    for (what, events) in [("a `line` event per line", one_by_one), ("one `lines` event", run)] {
        let frame = serde_json::to_vec(&Uplink::Events { events }).expect("serializes");
        let rounds = 200;
        let start = Instant::now();
        for _ in 0..rounds {
            let up: Uplink = serde_json::from_slice(&frame).expect("parses");
            std::hint::black_box(up);
        }
        let per_line = start.elapsed().as_secs_f64() / f64::from(rounds) / 1500.0;
        println!(
            "{what}: {:.0} ns per line ({} bytes per frame of 1500 lines)",
            per_line * 1e9,
            frame.len()
        );
    }
}
