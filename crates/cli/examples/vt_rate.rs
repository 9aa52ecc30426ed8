//! Measures how fast the virtual screen takes typical output (MB/s), for sizing the mirror
//! budget: `cargo run --release -p cr --example vt_rate [MiB]` (default 64; a few MiB are
//! enough under `valgrind --tool=callgrind`). Two kinds of output: a log with colour on every
//! line (every byte through the emulator) and plain text as `cat` prints it (mostly past it).

#![allow(clippy::print_stdout)]

use std::time::Instant;

fn rate(name: &str, chunk: &[u8], total: usize) {
    let mut screen = cr::screen::VirtualScreen::new(50, 200);
    let start = Instant::now();
    let mut fed = 0;
    while fed < total {
        screen.feed(chunk);
        screen.take_scrolled();
        fed += chunk.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{name}: {:.0} MB/s ({} MiB in {secs:.2} s)", fed as f64 / secs / 1e6, fed >> 20);
}

fn main() {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(64);
    let (mut coloured, mut plain) = (Vec::new(), Vec::new());
    for i in 0..2000 {
        let words = format!("some typical log output with words and numbers {}", i * 7);
        coloured.extend_from_slice(format!("\x1b[32m{i:6}\x1b[0m  {words}\r\n").as_bytes());
        plain.extend_from_slice(format!("{i:6}  {words}\r\n").as_bytes());
    }
    rate("coloured log", &coloured, mib << 20);
    rate("plain text", &plain, mib << 20);
}
