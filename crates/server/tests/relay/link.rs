//! The link: handshake refusals (401 before the upgrade), frame integrity, resume without loss
//! or duplicates, heartbeats, replacement and foreign sessions.

use cr_proto::sign::{self, LINK_CONTEXT};
use cr_proto::{Downlink, LINK_VERSION, Uplink};
use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;

#[tokio::test]
async fn handshake_refusals_are_401_before_upgrade() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let ts = now_ms() / 1000;

    // Wrong signature.
    let nonce = fresh_nonce();
    let wrong = Device { id: device.id.clone(), secret: "not-the-secret".into() };
    let r = Link::connect_with(
        server.addr,
        &device,
        signed_headers(&wrong, LINK_CONTEXT, ts, &nonce),
        ts,
        &nonce,
    )
    .await;
    let r = r.err().expect("bad signature refused");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("\"error\""), "{}", r.body);

    // Missing headers.
    let r = Link::connect_with(server.addr, &device, vec![], ts, &nonce).await.err().unwrap();
    assert_eq!(r.status, 401);

    // Stale timestamp.
    let old = ts - 300;
    let n = fresh_nonce();
    let r = Link::connect_with(
        server.addr,
        &device,
        signed_headers(&device, LINK_CONTEXT, old, &n),
        old,
        &n,
    )
    .await;
    let r = r.err().expect("stale timestamp refused");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("clock"), "{}", r.body);

    // Signed for another purpose (the login-link context).
    let n = fresh_nonce();
    let h = signed_headers(&device, sign::LOGIN_LINK_CONTEXT, ts, &n);
    assert_eq!(
        Link::connect_with(server.addr, &device, h, ts, &n).await.err().unwrap().status,
        401
    );

    // Replayed nonce: the same headers work once.
    let n = fresh_nonce();
    let headers = signed_headers(&device, LINK_CONTEXT, ts, &n);
    let first = Link::connect_with(server.addr, &device, headers.clone(), ts, &n).await;
    assert!(first.is_ok());
    let r = Link::connect_with(server.addr, &device, headers, ts, &n)
        .await
        .err()
        .expect("replay refused");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("already used"), "{}", r.body);

    // Unknown device.
    let ghost = Device { id: "dev_ghost".into(), secret: device.secret.clone() };
    assert_eq!(Link::connect(server.addr, &ghost).await.err().unwrap().status, 401);

    // Revoked device.
    cr_server::store::revoke_device(&server.admin().conn, &device.id, cr_server::now()).unwrap();
    let r = Link::connect(server.addr, &device).await.err().expect("revoked device refused");
    assert_eq!(r.status, 401);
    assert!(r.body.contains("revoked"), "{}", r.body);
}

#[tokio::test]
async fn a_tampered_frame_closes_the_link() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let (mut link, _) = server.link(&device, "s-tamper").await;
    let mut frame = link.sealer.seal(br#"{"type":"heartbeat"}"#);
    let last = frame.len() - 2;
    frame[last] ^= 0x20;
    link.ws.send(Message::Binary(frame.into())).await.unwrap();
    let close = link.closed().await.expect("a close frame with a reason");
    assert!(close.reason.contains("bad frame"), "{}", close.reason);
}

#[tokio::test]
async fn text_frames_unknown_messages_and_late_hellos_close_the_link() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;

    let (mut link, _) = server.link(&device, "s-bad1").await;
    link.ws.send(Message::Text("hello".into())).await.unwrap();
    assert!(link.closed().await.unwrap().reason.contains("text frames"));

    let (mut link, _) = server.link(&device, "s-bad2").await;
    let frame = link.sealer.seal(br#"{"type":"launch"}"#);
    link.ws.send(Message::Binary(frame.into())).await.unwrap();
    assert!(link.closed().await.unwrap().reason.contains("bad message"));

    let mut link = Link::connect(server.addr, &device).await.unwrap();
    link.send(&Uplink::Heartbeat).await;
    assert!(link.closed().await.unwrap().reason.contains("first message must be hello"));

    let (mut link, _) = server.link(&device, "s-bad3").await;
    link.send(&Uplink::Hello { version: LINK_VERSION, session: meta("s-bad3") }).await;
    assert!(link.closed().await.unwrap().reason.contains("hello"));

    let (mut link, _) = server.link(&device, "s-bad4").await;
    link.send(&Uplink::Output { output: cr_proto::ScreenUpdate::default() }).await;
    assert!(link.closed().await.unwrap().reason.contains("output before the first screen"));
}

#[tokio::test]
async fn resume_after_a_drop_has_no_loss_and_no_duplicates() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, acked) = server.link(&device, "s-resume").await;
    assert_eq!(acked, 0);
    link.send(&lines(1..=10)).await;
    link.acked(10).await;
    // Send more and drop the connection without waiting for the ack.
    link.send(&lines(11..=20)).await;
    drop(link);

    let (mut link, acked) = server.link(&device, "s-resume").await;
    assert!((10..=20).contains(&acked), "welcome says {acked}");
    // cr re-sends everything it has not seen acknowledged, and a bit more for good measure.
    link.send(&lines(1..=20)).await;
    link.send(&lines(21..=25)).await;
    link.acked(25).await;

    let res = server.get("/api/sessions/s-resume/transcript?limit=1000", Some(&cookie)).await;
    let got: Vec<cr_proto::TranscriptLine> = res.json();
    let seqs: Vec<u64> = got.iter().map(|l| l.seq).collect();
    assert_eq!(seqs, (1..=25).collect::<Vec<_>>());
    assert!(got.iter().all(|l| l.line == format!("line {}", l.seq)));
}

#[tokio::test]
async fn silence_turns_the_session_disconnected_and_a_new_hello_running() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let mut all = server.sse("/events", &cookie, None).await;
    let (mut link, _) = server.link(&device, "s-hb").await;
    assert_eq!(all.next_named("session_start").await.json()["status"], "running");
    // The relay heartbeats when it has nothing else to say.
    assert!(matches!(within("a heartbeat", link.recv_any()).await, Some(Downlink::Heartbeat)));
    // cr goes silent (its machine froze): after the link timeout the relay gives up.
    let close = link.closed().await.expect("closed with a reason");
    assert!(close.reason.contains("nothing heard"), "{}", close.reason);
    let update = all.next_named("session_update").await.json();
    assert_eq!(update["status"], "disconnected");

    let (_link, _) = server.link(&device, "s-hb").await;
    let update = all.next_named("session_update").await.json();
    assert_eq!(update["status"], "running");
}

#[tokio::test]
async fn a_new_link_replaces_the_old_and_other_devices_cannot_take_a_session() {
    let server = TestServer::start().await;
    let a = server.pair("a").await;
    let b = server.pair("b").await;
    let (mut first, _) = server.link(&a, "s-own").await;
    let (mut second, _) = server.link(&a, "s-own").await;
    assert!(first.closed().await.unwrap().reason.contains("replaced"));
    second.send(&lines(1..=1)).await;
    second.acked(1).await;

    let mut thief = Link::connect(server.addr, &b).await.unwrap();
    thief.send(&Uplink::Hello { version: LINK_VERSION, session: meta("s-own") }).await;
    assert!(thief.closed().await.unwrap().reason.contains("another device"));
    // The owner's link is untouched.
    second.send(&lines(2..=2)).await;
    second.acked(2).await;
}

#[tokio::test]
async fn runs_of_lines_are_numbered_one_per_line_and_resends_overlap_safely() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-runs").await;
    let mut phone = server.sse("/events?session=s-runs", &cookie, None).await;
    let run = |seq, texts: &[&str]| cr_proto::Numbered {
        seq,
        event: cr_proto::Event::Lines {
            at: cr_proto::Timestamp(1_763_730_000_000),
            lines: texts.iter().map(|t| (*t).to_owned()).collect(),
        },
    };
    link.send(&Uplink::Events { events: vec![run(1, &["a", "b \"quoted\"", "c"])] }).await;
    link.acked(3).await;
    // A re-send overlapping what is stored, then one more line on its own.
    link.send(&Uplink::Events { events: vec![run(2, &["b \"quoted\"", "c", "d"]), line(5, "e")] })
        .await;
    link.acked(5).await;

    let res = server.get("/api/sessions/s-runs/transcript", Some(&cookie)).await;
    let got: Vec<cr_proto::TranscriptLine> = res.json();
    let got: Vec<(u64, &str)> = got.iter().map(|l| (l.seq, l.line.as_str())).collect();
    assert_eq!(got, [(1, "a"), (2, "b \"quoted\""), (3, "c"), (4, "d"), (5, "e")]);

    // The phone gets each line once, in `lines` events parsed as the page parses them.
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let ev = phone.next_named("lines").await;
        let block: Vec<cr_proto::TranscriptLine> = serde_json::from_str(&ev.data).unwrap();
        assert!(block.iter().all(|l| l.at == cr_proto::Timestamp(1_763_730_000_000) || l.seq == 5));
        seen.extend(block.into_iter().map(|l| l.seq));
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn links_of_the_previous_version_are_accepted_and_newer_ones_refused() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let mut old = Link::connect(server.addr, &device).await.unwrap();
    old.send(&Uplink::Hello { version: cr_proto::MIN_LINK_VERSION, session: meta("s-v1") }).await;
    assert!(matches!(old.recv().await, Downlink::Welcome { acked: 0 }));
    old.send(&lines(1..=3)).await;
    old.acked(3).await;

    let mut newer = Link::connect(server.addr, &device).await.unwrap();
    newer.send(&Uplink::Hello { version: LINK_VERSION + 1, session: meta("s-v9") }).await;
    let reason = newer.closed().await.unwrap().reason;
    assert!(reason.contains("update cr and cr-server together"), "{reason}");
}
