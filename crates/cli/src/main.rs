//! `cr`: the workstation binary.

fn main() {}
