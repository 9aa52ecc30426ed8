//! `cr-server`: the relay binary.

fn main() {}
