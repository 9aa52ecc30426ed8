//! Measures how fast the virtual screen parses typical output (MB/s), for sizing the mirror
//! budget: `cargo run --release -p cr --example vt_rate`.

#![allow(clippy::print_stdout)]

use std::time::Instant;

fn main() {
    let mut chunk = Vec::new();
    for i in 0..2000 {
        chunk.extend_from_slice(
            format!(
                "\x1b[32m{i:6}\x1b[0m  some typical log output with words and numbers {}\r\n",
                i * 7
            )
            .as_bytes(),
        );
    }
    let mut screen = cr::screen::VirtualScreen::new(50, 200);
    let total = 64 << 20;
    let start = Instant::now();
    let mut fed = 0;
    while fed < total {
        screen.feed(&chunk);
        screen.take_scrolled();
        fed += chunk.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{:.0} MB/s ({} MiB in {secs:.2} s)", fed as f64 / secs / 1e6, fed >> 20);
}
