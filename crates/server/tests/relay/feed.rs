//! The feed: screen coalescing and diffs, `Last-Event-ID` resume, and a phone that stops
//! reading.

use cr_proto::{Row, RowChange, Screen, ScreenUpdate, Span, Uplink};

use crate::common::*;

fn numbered_screen(n: u32) -> Screen {
    screen_of(&[&format!("frame {n}"), "static", &format!("tail {}", n % 7)])
}

#[tokio::test]
async fn the_session_stream_starts_with_a_screen_and_its_updates_rebuild_the_latest() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-screen").await;
    link.send(&Uplink::Screen { screen: numbered_screen(0) }).await;
    let mut stream = server.sse("/events?session=s-screen", &cookie, None).await;
    let mut mirror: Screen = serde_json::from_str(&stream.next_named("screen").await.data).unwrap();
    let mut prev = numbered_screen(0);
    for n in 1..=200 {
        let next = numbered_screen(n);
        link.send(&Uplink::Output { output: ScreenUpdate::between(&prev, &next) }).await;
        prev = next;
    }
    let want = prev;
    within("the phone's screen to catch up", async {
        while mirror != want {
            let ev = stream.next().await.expect("stream open");
            match ev.event.as_str() {
                "output" => mirror.apply(&serde_json::from_str(&ev.data).unwrap()).unwrap(),
                "screen" => mirror = serde_json::from_str(&ev.data).unwrap(),
                _ => {}
            }
        }
    })
    .await;
    // The API shows the same screen.
    let detail: serde_json::Value =
        server.get("/api/sessions/s-screen", Some(&cookie)).await.json();
    assert_eq!(serde_json::from_value::<Screen>(detail["screen"].clone()).unwrap(), want);
    // A bad update closes the link and leaves the screen as it was.
    let bad = ScreenUpdate {
        changes: vec![RowChange { row: 9, line: Row(vec![Span::plain("x")]) }],
        ..ScreenUpdate::default()
    };
    link.send(&Uplink::Output { output: bad }).await;
    assert!(link.closed().await.unwrap().reason.contains("bad output"));
}

#[tokio::test]
async fn last_event_id_resumes_lines_and_prompts_without_duplicates() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-le").await;
    link.send(&Uplink::Screen { screen: screen_of(&["a"]) }).await;
    let mut stream = server.sse("/events?session=s-le", &cookie, None).await;
    stream.next_named("screen").await;
    link.send(&lines(1..=5)).await;
    link.acked(5).await;
    let ev = stream.next_named("lines").await;
    let last_id = ev.id.clone().unwrap();
    drop(stream);

    // Missed while away: lines, a prompt, more lines.
    link.send(&lines(6..=8)).await;
    link.send(&opened(9, tool_prompt("p-le", "s-le"))).await;
    link.send(&lines(10..=12)).await;
    link.acked(12).await;

    let mut stream = server.sse("/events?session=s-le", &cookie, Some(&last_id)).await;
    let mut seqs = Vec::new();
    let mut order = Vec::new();
    let mut ids = Vec::new();
    within("the replay", async {
        while seqs.len() < 6 || !order.contains(&"prompt".to_owned()) {
            let ev = stream.next().await.expect("open");
            if let Some(id) = &ev.id {
                ids.push(id.parse::<u64>().unwrap());
            }
            match ev.event.as_str() {
                "lines" => {
                    for l in ev.json().as_array().unwrap() {
                        seqs.push(l["seq"].as_u64().unwrap());
                    }
                    order.push("lines".to_owned());
                }
                "prompt" => order.push("prompt".to_owned()),
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(seqs, [6, 7, 8, 10, 11, 12], "exactly the missed lines");
    assert_eq!(order, ["lines", "prompt", "lines"], "in the order they happened");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    assert!(ids[0] > last_id.parse::<u64>().unwrap());
    // Then a fresh screen.
    assert_eq!(stream.next_named("screen").await.json()["lines"][0][0]["text"], "a");

    // The all-sessions feed resumes prompt events too.
    let mut all = server.sse("/events", &cookie, Some(&last_id)).await;
    assert_eq!(all.next_named("prompt").await.json()["id"], "p-le");
    assert_eq!(server.sse("/events", &cookie, Some("banana")).await.status, 400);
    assert_eq!(server.sse("/events?session=nope", &cookie, None).await.status, 404);
}

#[tokio::test]
async fn a_phone_that_stops_reading_is_resynced_not_buffered() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-slow").await;
    link.send(&Uplink::Screen { screen: screen_of(&["slow"]) }).await;
    let mut slow = Sse::open_small_window(server.addr, "/events?session=s-slow", &cookie).await;
    assert_eq!(slow.next_named("screen").await.json()["lines"][0][0]["text"], "slow");

    // Far more feed events than the broadcast holds, and far more bytes than socket buffers
    // hold, while the phone reads nothing.
    let total = (cr_server::hub::FEED_CAPACITY as u64) * 3;
    let padding = "x".repeat(8 * 1024);
    for seq in 1..=total {
        link.send(&Uplink::Events { events: vec![line(seq, &format!("{seq} {padding}"))] }).await;
        if seq % 500 == 0 {
            link.acked(seq).await;
        }
    }
    link.acked(total).await;

    // Now it reads: every line exactly once, in order, with a fresh screen where it fell behind.
    let mut seqs = Vec::new();
    let mut screens = 0;
    within("the slow phone to catch up", async {
        while seqs.len() < total as usize {
            let ev = slow.next().await.expect("open");
            match ev.event.as_str() {
                "lines" => {
                    for l in ev.json().as_array().unwrap() {
                        seqs.push(l["seq"].as_u64().unwrap());
                    }
                }
                "screen" => screens += 1,
                _ => {}
            }
        }
    })
    .await;
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
    // It fell behind the broadcast, so after the replay from the store comes a fresh screen.
    if screens == 0 {
        slow.next_named("screen").await;
    }
}

#[tokio::test]
async fn phones_that_join_while_lines_stream_get_every_line_from_their_first_on_once() {
    const FRAMES: u64 = 600;
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-join").await;
    link.send(&Uplink::Screen { screen: screen_of(&["a"]) }).await;
    // One line per frame, paced so that phones join while lines are being committed and
    // published: a phone's live stream must continue its start without a gap or a repeat.
    let streamer = tokio::spawn(async move {
        for seq in 1..=FRAMES {
            link.send(&lines(seq..=seq)).await;
            if seq % 5 == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
        link
    });
    let mut phones = Vec::new();
    for _ in 0..24 {
        phones.push(server.sse("/events?session=s-join", &cookie, None).await);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    // A last line after every phone is in, so each has an end to wait for.
    let mut link = streamer.await.unwrap();
    link.send(&lines(FRAMES + 1..=FRAMES + 1)).await;
    link.acked(FRAMES + 1).await;
    let mut joined_mid_stream = 0;
    for (i, mut phone) in phones.into_iter().enumerate() {
        let mut seqs = Vec::new();
        within("every line after the phone's start", async {
            while seqs.last() != Some(&(FRAMES + 1)) {
                let ev = phone.next().await.expect("stream open");
                if ev.event == "lines" {
                    seqs.extend(
                        ev.json().as_array().unwrap().iter().map(|l| l["seq"].as_u64().unwrap()),
                    );
                }
            }
        })
        .await;
        let first = seqs[0];
        joined_mid_stream += usize::from(first > 1 && first <= FRAMES);
        assert_eq!(
            seqs,
            (first..=FRAMES + 1).collect::<Vec<_>>(),
            "phone {i} lost or repeated lines"
        );
    }
    assert!(joined_mid_stream >= 3, "only {joined_mid_stream} phones joined while lines streamed");
}
