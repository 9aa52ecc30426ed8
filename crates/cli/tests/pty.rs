//! The terminal is sacred: `cr` in a real PTY, driven like a user's terminal, running small
//! fake programs. Bytes in = bytes out, resize, exit codes, signals, environment, restore.

mod common;

use common::{Launch, Terminal, fake, fresh_termios};

fn after_ready(out: &[u8]) -> &[u8] {
    let at = out.windows(5).position(|w| w == b"READY").expect("READY");
    &out[at + 5..]
}

#[test]
fn keystrokes_and_output_pass_through_byte_for_byte() {
    // Every byte value, including ^C, ^Z, ^S, ESC and DEL: raw mode passes them all.
    let input: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    let mut t = Terminal::start(Launch::new(&[
        "--no-hooks",
        "--",
        "python3",
        &fake("echo_raw.py"),
        "echo",
        &input.len().to_string(),
    ]));
    let before = fresh_termios();
    t.wait_text("READY");
    assert_ne!(t.termios(), before, "cr puts the terminal in raw mode");
    for chunk in input.chunks(37) {
        t.write(chunk);
    }
    assert_eq!(t.wait_exit(), 0);
    assert_eq!(after_ready(&t.output()), input.as_slice());
    assert_eq!(t.termios(), before, "the terminal is restored on exit");
}

#[test]
fn a_megabyte_of_output_arrives_unchanged() {
    let n = 1 << 20;
    let mut t = Terminal::start(Launch::new(&[
        "--no-hooks",
        "--",
        "python3",
        &fake("echo_raw.py"),
        "blast",
        &n.to_string(),
    ]));
    assert_eq!(t.wait_exit(), 0);
    let pattern: Vec<u8> = (0..=255u8).cycle().take(n).collect();
    let out = t.output();
    let got = after_ready(&out);
    assert_eq!(got.len(), n);
    assert!(got == pattern.as_slice(), "output differs from what the program wrote");
}

#[test]
fn exit_codes_are_the_childs() {
    let mut t = Terminal::start(Launch::new(&["--no-hooks", "--", "sh", "-c", "exit 7"]));
    assert_eq!(t.wait_exit(), 7);
    let mut t = Terminal::start(Launch::new(&["--no-hooks", "--", "sh", "-c", "kill -KILL $$"]));
    assert_eq!(t.wait_exit(), 128 + 9);
    let mut t = Terminal::start(Launch::new(&["--no-hooks", "--", "/nonexistent/program"]));
    assert_ne!(t.wait_exit(), 0);
    t.wait_text("cannot run");
}

#[test]
fn sigterm_to_cr_reaches_the_child_and_restores_the_terminal() {
    let mut t = Terminal::start(Launch::new(&["--no-hooks", "--", "python3", &fake("winch.py")]));
    t.wait_text("SIZE");
    let running = t.termios();
    assert!(!running.contains("ICANON"), "raw while running: {running}");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(t.pid()).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert_eq!(t.wait_exit(), 128 + 15);
    let after = t.termios();
    assert!(after.contains("ICANON") && after.contains("ECHO"), "cooked again: {after}");
}

#[test]
fn the_child_sees_resizes() {
    let t = Terminal::start(Launch::new(&["--no-hooks", "--", "python3", &fake("winch.py")]));
    t.wait_text("SIZE 24 80");
    t.resize(40, 120);
    t.wait_text("SIZE 40 120");
    t.resize(10, 33);
    t.wait_text("SIZE 10 33");
}

#[test]
fn cwd_and_environment_are_inherited_and_term_is_set_when_missing() {
    let dir = tempfile::tempdir().unwrap();
    let mut launch =
        Launch::new(&["--no-hooks", "--", "sh", "-c", "echo \"T=$TERM P=$(pwd) V=$CR_TEST_VAR\""])
            .env("CR_TEST_VAR", "xyz");
    launch.cwd = Some(dir.path().canonicalize().unwrap());
    launch.remove_env.push("TERM".into());
    let mut t = Terminal::start(launch);
    assert_eq!(t.wait_exit(), 0);
    let want = format!("T=xterm-256color P={} V=xyz", dir.path().canonicalize().unwrap().display());
    assert!(t.text().contains(&want), "{:?}", t.text());

    let mut t = Terminal::start(
        Launch::new(&["--no-hooks", "--", "sh", "-c", "echo T=$TERM"]).env("TERM", "screen"),
    );
    assert_eq!(t.wait_exit(), 0);
    assert!(t.text().contains("T=screen"), "an existing TERM is kept: {:?}", t.text());
}

#[test]
fn relay_down_at_start_changes_nothing_on_screen() {
    // Paired with a relay that is not there: the child runs as if alone, nothing is printed.
    let launch = Launch::new(&["--no-hooks", "--", "sh", "-c", "sleep 0.5; echo done; exit 4"])
        .env("CR_SERVER", "http://127.0.0.1:9")
        .env("CR_DEVICE_ID", "dev1")
        .env("CR_DEVICE_SECRET", "secret");
    let mut t = Terminal::start(launch);
    assert_eq!(t.wait_exit(), 4);
    assert_eq!(t.text(), "done\r\n");
}

#[test]
fn sighup_to_cr_reaches_the_child_and_restores_the_terminal() {
    let before = fresh_termios();
    let mut t = Terminal::start(Launch::new(&["--no-hooks", "--", "python3", &fake("winch.py")]));
    t.wait_text("SIZE");
    assert_ne!(t.termios(), before, "raw while running");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(t.pid()).unwrap(),
        rustix::process::Signal::HUP,
    )
    .unwrap();
    assert_eq!(t.wait_exit(), 128 + 1, "the child died of the SIGHUP cr passed on");
    assert_eq!(t.termios(), before, "the terminal is as it was");
}

#[test]
fn a_panic_in_cr_restores_the_terminal_and_ends_cr() {
    // The panic happens on a thread of cr's own, not the main one: the hard case.
    let before = fresh_termios();
    let mut t = Terminal::start(
        Launch::new(&["--no-hooks", "--", "python3", &fake("winch.py")]).env("CR_DEBUG_PANIC", "1"),
    );
    assert_eq!(t.wait_exit(), 101);
    assert_eq!(t.termios(), before, "the terminal is as it was");
    t.wait_text("CR_DEBUG_PANIC");
}
