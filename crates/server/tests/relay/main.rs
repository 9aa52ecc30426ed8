//! End-to-end tests of the relay: the real server on a loopback port with a temp database,
//! driven by a real link client built on `cr_proto` and a real SSE client.

mod common;

mod answers;
mod api;
mod feed;
mod link;
mod process;
