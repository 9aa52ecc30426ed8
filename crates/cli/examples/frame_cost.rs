//! Measures what one screen update costs `cr` and the relay on a 50x200 terminal full of
//! output (microseconds per call): `cargo run --release -p cr --example frame_cost`.
//! The split between vt100's own cell accessors and our snapshot code is why the snapshot is
//! memoized and built with as few accessor calls as the format allows.

#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::num::NonZeroU16;
use std::time::Instant;

use cr_proto::{ScreenUpdate, Uplink};

const ROWS: u16 = 50;
const COLS: u16 = 200;
const CALLS: u32 = 2000;

fn line(i: usize) -> String {
    format!("tick {i:06} compiling module with 3 warnings and some numbers 12345 67890\r\n")
}

/// Microseconds per call of `f`.
fn per_call(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..CALLS {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(CALLS)
}

fn main() {
    let mut parser =
        vt100::Parser::new(NonZeroU16::new(ROWS).unwrap(), NonZeroU16::new(COLS).unwrap(), 0);
    let mut screen = cr::screen::VirtualScreen::new(ROWS, COLS);
    for i in 0..60 {
        parser.process(line(i).as_bytes());
        screen.feed(line(i).as_bytes());
    }
    let cells = per_call(|| {
        let s = parser.screen();
        let mut n = 0u32;
        for r in 0..ROWS {
            for c in 0..COLS {
                n += u32::from(s.cell(r, c).is_some_and(vt100::Cell::has_contents));
            }
        }
        black_box(n);
    });
    let plain_rows = per_call(|| {
        black_box(parser.screen().rows(0, COLS).count());
    });
    let old = screen.snapshot();
    screen.feed(line(60).as_bytes());
    let fresh = per_call(|| {
        // Moving the cursor (to where it is) could have changed any row, so each call builds
        // the snapshot from every row.
        screen.feed(b"\x1b[50;1H");
        black_box(screen.snapshot());
    });
    let memo = per_call(|| drop(black_box(screen.snapshot())));
    // What a frame of a printing program costs: one new line, the rest scrolled up by one.
    let mut i = 61;
    let scrolled = per_call(|| {
        screen.feed(line(i).as_bytes());
        i += 1;
        black_box(screen.snapshot());
    });
    let feed_only = per_call(|| {
        screen.feed(line(i).as_bytes());
        i += 1;
    });
    let new = screen.snapshot();
    let detect = per_call(|| drop(black_box(cr::detect::detect(&new))));
    let update = ScreenUpdate::between(&old, &new);
    let diff = per_call(|| drop(black_box(ScreenUpdate::between(&old, &new))));
    let msg = Uplink::Output { output: update.clone() };
    let json = serde_json::to_vec(&msg).unwrap();
    let to_json = per_call(|| drop(black_box(serde_json::to_vec(&msg).unwrap())));
    let parse = per_call(|| drop(black_box(serde_json::from_slice::<Uplink>(&json).unwrap())));
    let inner = serde_json::to_vec(&update).unwrap();
    let parse_inner =
        per_call(|| drop(black_box(serde_json::from_slice::<ScreenUpdate>(&inner).unwrap())));
    println!(
        "{ROWS}x{COLS}: vt100 cell() over every cell {cells:.0} us, vt100 rows() {plain_rows:.0} us; \
         snapshot of every row {fresh:.0} us (memoized {memo:.1} us, after a one-line scroll \
         {:.0} us beyond feeding it); detect {detect:.1} us; diff {diff:.1} us \
         ({} rows); update JSON {to_json:.1} us ({} B), parsed back {parse:.1} us (the update \
         alone {parse_inner:.1} us)",
        scrolled - feed_only,
        update.changes.len(),
        json.len()
    );
    // What the relay reads per `events` frame of a `cat`: 256 KiB of lines, as `cr` batches
    // them, in runs of 40 that scrolled off together.
    let mut events = Vec::new();
    let (mut seq, mut ms) = (1_u64, 1_765_000_000_000_i64);
    while events.len() * 40 * 84 < 256 << 10 {
        let lines: Vec<String> = (0..40).map(|i| line(i).trim_end().to_owned()).collect();
        let n = lines.len() as u64;
        let at = cr_proto::Timestamp(ms);
        events.push(cr_proto::Numbered { seq, event: cr_proto::Event::Lines { at, lines } });
        seq += n;
        ms += 1;
    }
    let batch = Uplink::Events { events }.to_json();
    let parse_events =
        per_call(|| drop(black_box(serde_json::from_slice::<Uplink>(&batch).unwrap())));
    println!(
        "an events frame of {} lines ({} B) parsed {parse_events:.0} us",
        seq - 1,
        batch.len()
    );
}
