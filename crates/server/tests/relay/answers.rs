//! The whole loop: pair → link → session → screen, lines → prompt → approve from the phone →
//! the answer arrives on the link → prompt_response; and every way an answer can lose.

use cr_proto::{Answer, AnsweredBy, Downlink, Prompt, PromptStatus, Uplink};

use crate::common::*;

#[tokio::test]
async fn pair_link_prompt_approve_round_trip() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let mut all = server.sse("/events", &cookie, None).await;
    assert_eq!(all.status, 200);

    let (mut link, acked) = server.link(&device, "s-main").await;
    assert_eq!(acked, 0);
    let started = all.next_named("session_start").await.json();
    assert_eq!(started["id"], "s-main");
    assert_eq!(started["device"], "laptop");
    assert_eq!(started["status"], "running");

    let mut stream = server.sse("/events?session=s-main", &cookie, None).await;
    link.send(&Uplink::Screen { screen: screen_of(&["$ claude", ""]) }).await;
    assert_eq!(stream.next_named("screen").await.json()["lines"][0][0]["text"], "$ claude");

    link.send(&lines(1..=3)).await;
    link.acked(3).await;
    let got = stream.next_named("lines").await;
    assert!(got.id.is_some(), "lines events carry an SSE id");
    let seqs: Vec<u64> =
        got.json().as_array().unwrap().iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3]);

    link.send(&opened(4, tool_prompt("p-1", "s-main"))).await;
    link.acked(4).await;
    // The status settles in a job after the prompt's commit, and the ack waits for it.
    let detail: serde_json::Value = server.get("/api/sessions/s-main", Some(&cookie)).await.json();
    assert_eq!((detail["status"].as_str(), detail["pending"].as_u64()), (Some("waiting"), Some(1)));
    let card = all.next_named("prompt").await;
    assert_eq!(card.json()["id"], "p-1");
    assert_eq!(card.json()["status"], "pending");
    let update = all.next_named("session_update").await.json();
    assert_eq!((update["status"].as_str(), update["pending"].as_u64()), (Some("waiting"), Some(1)));

    // The phone approves; the request waits for cr to settle the prompt.
    let url = server.url();
    let approve = {
        let cookie = cookie.clone();
        let addr = server.addr;
        tokio::spawn(async move {
            http(
                addr,
                "POST",
                "/api/prompts/p-1/approve",
                &[("origin", &url), ("cookie", &cookie)],
                Some(r#"{"always":true}"#),
            )
            .await
        })
    };
    match link.recv().await {
        Downlink::Answer { prompt_id, answer } => {
            assert_eq!(prompt_id.as_str(), "p-1");
            assert_eq!(answer, Answer::Approve { always: true });
        }
        other => panic!("expected the answer, got {other:?}"),
    }
    link.send(&closed(5, "p-1", PromptStatus::Approved, AnsweredBy::Phone)).await;
    let res = within("the approve request", approve).await.unwrap();
    assert_eq!(res.status, 200, "{}", res.text());
    let prompt: Prompt = res.json();
    assert_eq!((prompt.status, prompt.by), (PromptStatus::Approved, Some(AnsweredBy::Phone)));
    let response = all.next_named("prompt_response").await.json();
    assert_eq!(
        response,
        serde_json::json!({"prompt_id": "p-1", "status": "approved", "by": "phone"})
    );

    // A second answer loses, and says to what.
    let again = server.post("/api/prompts/p-1/reject", Some(&cookie), "{}").await;
    assert_eq!(again.status, 409);
    let body: serde_json::Value = again.json();
    assert_eq!((body["status"].as_str(), body["by"].as_str()), (Some("approved"), Some("phone")));
    assert_eq!(body["prompt_id"], "p-1");

    // Both attempts are audited.
    let audit = cr_server::store::audit_for(&server.admin().conn, "p-1").unwrap();
    let outcomes: Vec<u16> = audit.iter().map(|a| a.1).collect();
    assert_eq!(outcomes, [200, 409]);
    assert!(audit[0].0.starts_with("phone:"));

    let detail: serde_json::Value = server.get("/api/sessions/s-main", Some(&cookie)).await.json();
    assert_eq!(detail["status"], "running");
    assert_eq!(detail["prompts"].as_array().unwrap().len(), 0);
    assert_eq!(detail["screen"]["lines"][0][0]["text"], "$ claude");
}

#[tokio::test]
async fn concurrent_answers_one_wins_one_gets_409() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-race").await;
    link.send(&opened(1, tool_prompt("p-race", "s-race"))).await;
    link.acked(1).await;

    let spawn_answer = |path: &'static str| {
        let (addr, url, cookie) = (server.addr, server.url(), cookie.clone());
        tokio::spawn(async move {
            http(addr, "POST", path, &[("origin", &url), ("cookie", &cookie)], Some("{}")).await
        })
    };
    let a = spawn_answer("/api/prompts/p-race/approve");
    let b = spawn_answer("/api/prompts/p-race/reject");
    // Exactly one answer travels down the link.
    let Downlink::Answer { answer, .. } = link.recv().await else { panic!("expected an answer") };
    let status = answer.status();
    link.send(&closed(2, "p-race", status, AnsweredBy::Phone)).await;
    let (a, b) = (within("a", a).await.unwrap(), within("b", b).await.unwrap());
    let mut codes = [a.status, b.status];
    codes.sort();
    assert_eq!(codes, [200, 409], "{} / {}", a.text(), b.text());
    let loser = if a.status == 409 { a } else { b };
    assert_eq!(loser.json::<serde_json::Value>()["status"], status.as_str());
    // No second answer was sent.
    link.heartbeat().await;
    let next = tokio::time::timeout(std::time::Duration::from_millis(300), link.recv()).await;
    assert!(!matches!(next, Ok(Downlink::Answer { .. })), "a second answer went down: {next:?}");
}

#[tokio::test]
async fn keyboard_wins_and_late_phone_answers_get_409_resolved_locally() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-local").await;

    // Settled at the keyboard before the phone answers.
    link.send(&opened(1, tool_prompt("p-a", "s-local"))).await;
    link.send(&closed(2, "p-a", PromptStatus::ResolvedLocally, AnsweredBy::Terminal)).await;
    link.acked(2).await;
    let res = server.post("/api/prompts/p-a/approve", Some(&cookie), "").await;
    assert_eq!(res.status, 409);
    let body: serde_json::Value = res.json();
    assert_eq!(
        (body["status"].as_str(), body["by"].as_str()),
        (Some("resolved_locally"), Some("terminal"))
    );

    // Settled at the keyboard while the phone's answer was on its way.
    link.send(&opened(3, tool_prompt("p-b", "s-local"))).await;
    link.acked(3).await;
    let pending = {
        let (addr, url, cookie) = (server.addr, server.url(), cookie.clone());
        tokio::spawn(async move {
            http(
                addr,
                "POST",
                "/api/prompts/p-b/approve",
                &[("origin", &url), ("cookie", &cookie)],
                None,
            )
            .await
        })
    };
    assert!(matches!(link.recv().await, Downlink::Answer { .. }));
    link.send(&closed(4, "p-b", PromptStatus::ResolvedLocally, AnsweredBy::Terminal)).await;
    let res = within("the late answer", pending).await.unwrap();
    assert_eq!(res.status, 409, "{}", res.text());
    assert_eq!(res.json::<serde_json::Value>()["status"], "resolved_locally");
    assert!(res.error().contains("resolved_locally"));
}

#[tokio::test]
async fn answers_are_validated_and_need_a_live_link() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-val").await;
    let mut choice = tool_prompt("p-choice", "s-val");
    choice.options =
        vec![cr_proto::PromptOption::new("1", "Trust"), cr_proto::PromptOption::new("2", "Exit")];
    link.send(&opened(1, choice)).await;
    link.acked(1).await;

    let res = server.post("/api/prompts/p-choice/approve", Some(&cookie), "{}").await;
    assert_eq!(res.status, 400);
    assert!(res.error().contains("cannot be approved"), "{}", res.error());
    let res = server.post("/api/prompts/p-choice/answer", Some(&cookie), r#"{"option":"9"}"#).await;
    assert_eq!(res.status, 400);
    assert!(res.error().contains("unknown option"));
    let res = server.post("/api/prompts/nope/approve", Some(&cookie), "{}").await;
    assert_eq!(res.status, 404);

    // Not linked: refused at once, nothing queued.
    drop(link);
    let cookie2 = cookie.clone();
    eventually("the session to disconnect", || {
        let (server, cookie) = (&server, &cookie2);
        async move {
            let v: serde_json::Value = server.get("/api/sessions/s-val", Some(cookie)).await.json();
            (v["status"] == "disconnected").then_some(())
        }
    })
    .await;
    let res = server.post("/api/prompts/p-choice/answer", Some(&cookie), r#"{"option":"1"}"#).await;
    assert_eq!(res.status, 503, "{}", res.text());
    assert!(res.error().contains("not connected"));
}

#[tokio::test]
async fn unconfirmed_answer_times_out_with_504_and_the_claim_is_released() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let token = {
        let admin = server.admin();
        cr_server::mint::api_token(&admin.conn, "script", cr_server::now()).unwrap().token
    };
    let bearer = format!("Bearer {token}");
    let (mut link, _) = server.link(&device, "s-slow").await;
    link.send(&opened(1, tool_prompt("p-slow", "s-slow"))).await;
    link.acked(1).await;
    let req = {
        let (addr, bearer) = (server.addr, bearer.clone());
        tokio::spawn(async move {
            // A script: bearer token, no Origin.
            http(addr, "POST", "/api/prompts/p-slow/approve", &[("authorization", &bearer)], None)
                .await
        })
    };
    assert!(matches!(link.recv().await, Downlink::Answer { .. }));
    // cr never confirms; keep the link alive meanwhile.
    let res = within("504", async {
        loop {
            if req.is_finished() {
                return req.await.unwrap();
            }
            link.heartbeat().await;
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })
    .await;
    assert_eq!(res.status, 504, "{}", res.text());
    // The claim is released: the next answer goes down the link again.
    let again = {
        let addr = server.addr;
        tokio::spawn(async move {
            http(addr, "POST", "/api/prompts/p-slow/reject", &[("authorization", &bearer)], None)
                .await
        })
    };
    assert!(matches!(link.recv().await, Downlink::Answer { answer: Answer::Reject { .. }, .. }));
    link.send(&closed(2, "p-slow", PromptStatus::Rejected, AnsweredBy::Phone)).await;
    assert_eq!(within("reject", again).await.unwrap().status, 200);
    let audit = cr_server::store::audit_for(&server.admin().conn, "p-slow").unwrap();
    assert_eq!(audit.iter().map(|a| a.1).collect::<Vec<_>>(), [504, 200]);
    assert!(audit[0].0.starts_with("token:tok_"));
}

#[tokio::test]
async fn session_end_expires_pending_prompts() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let mut all = server.sse("/events", &cookie, None).await;
    let (mut link, _) = server.link(&device, "s-end").await;
    link.send(&opened(1, tool_prompt("p-end", "s-end"))).await;
    link.send(&Uplink::Events {
        events: vec![cr_proto::Numbered {
            seq: 2,
            event: cr_proto::Event::Ended { at: cr_proto::Timestamp(now_ms()), exit_code: Some(3) },
        }],
    })
    .await;
    link.acked(2).await;
    let response = all.next_named("prompt_response").await.json();
    assert_eq!(
        response,
        serde_json::json!({"prompt_id": "p-end", "status": "expired", "by": "relay"})
    );
    let ended = all.next_named("session_end").await.json();
    assert_eq!((ended["status"].as_str(), ended["exit_code"].as_i64()), (Some("ended"), Some(3)));
    assert!(ended["ended_at"].is_string());
    let res = server.post("/api/prompts/p-end/approve", Some(&cookie), "{}").await;
    assert_eq!(res.status, 409);
    assert_eq!(res.json::<serde_json::Value>()["by"], "relay");
    let res = server.post("/api/sessions/s-end/input", Some(&cookie), r#"{"text":"hi"}"#).await;
    assert_eq!(res.status, 409);
}

#[tokio::test]
async fn input_reaches_the_link() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-in").await;
    let res = server
        .post("/api/sessions/s-in/input", Some(&cookie), r#"{"keys":["esc","ctrl-c"]}"#)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    match link.recv().await {
        Downlink::Input { input } => assert_eq!(
            input,
            cr_proto::Input::Keys { keys: vec![cr_proto::Key::Esc, cr_proto::Key::CtrlC] }
        ),
        other => panic!("expected input, got {other:?}"),
    }
    let res =
        server.post("/api/sessions/s-in/input", Some(&cookie), r#"{"text":"a\u001b[2J"}"#).await;
    assert_eq!(res.status, 400);
    assert!(res.error().contains("control characters"));
}
