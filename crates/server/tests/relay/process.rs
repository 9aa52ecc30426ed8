//! The real `cr-server` binary: first run, admin commands from another process while it runs,
//! restart on the same database, and `kill -9` in the middle of a burst.

use cr_proto::Downlink;

use crate::common::*;

fn output_seqs(db: &std::path::Path, session: &str) -> Vec<u64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt =
        conn.prepare("SELECT seq FROM output_log WHERE session_id = ?1 ORDER BY seq").unwrap();
    stmt.query_map([session], |r| r.get::<_, i64>(0)).unwrap().map(|s| s.unwrap() as u64).collect()
}

fn integrity(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    cr_server::store::integrity_check(&conn).unwrap()
}

/// Pairs a device with a relay process: a code minted on its database, redeemed over HTTP.
async fn pair_with(relay: &RelayProcess, db: &std::path::Path) -> Device {
    let code = {
        let admin = cr_server::store::Admin::open(db).unwrap();
        let public =
            cr_server::config::PublicUrl::parse(&format!("http://{}", relay.addr)).unwrap();
        cr_server::mint::pairing_code(&admin.conn, &public, "", cr_server::now()).unwrap().code
    };
    let body = serde_json::json!({"code": code}).to_string();
    let res = http(relay.addr, "POST", "/api/pair", &[], Some(&body)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let v: serde_json::Value = res.json();
    Device {
        id: v["device_id"].as_str().unwrap().into(),
        secret: v["secret"].as_str().unwrap().into(),
    }
}

fn field<'a>(text: &'a str, after: &str) -> &'a str {
    text.split(after).nth(1).unwrap().split_whitespace().next().unwrap()
}

#[tokio::test]
async fn first_run_prints_a_working_login_link_and_pairing_code() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/relay.db");
    let relay = RelayProcess::start(&db);
    let out = relay.stdout.clone();
    assert!(out.contains("/login#crl_"), "{out}");
    assert!(out.contains('█') || out.contains('▀') || out.contains('▄'), "a QR code: {out}");
    let url = field(&out, "open this login link or scan the code:");
    let token = url.split('#').nth(1).unwrap();
    let code = field(&out, &format!("cr pair http://{} ", relay.addr));
    let origin = format!("http://{}", relay.addr);
    let body = serde_json::json!({"token": token}).to_string();
    let res = http(relay.addr, "POST", "/api/login", &[("origin", &origin)], Some(&body)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let cookie = res.header("set-cookie").unwrap();
    let cookie = cookie.split(';').next().unwrap().strip_prefix("cr_session=").unwrap().to_owned();
    let body = serde_json::json!({"code": code}).to_string();
    let res = http(relay.addr, "POST", "/api/pair", &[], Some(&body)).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let secret = res.json::<serde_json::Value>()["secret"].as_str().unwrap().to_owned();
    // Wrong guesses are logged as failures, without what was guessed.
    let (bad_token, bad_code) = ("crl_not-a-real-token-1234567890", "WRONG-CODE-42");
    let body = serde_json::json!({"token": bad_token}).to_string();
    http(relay.addr, "POST", "/api/login", &[("origin", &origin)], Some(&body)).await;
    let body = serde_json::json!({"code": bad_code}).to_string();
    http(relay.addr, "POST", "/api/pair", &[], Some(&body)).await;
    let log = relay.stderr.lock().unwrap().clone();
    assert!(log.contains("listening on"), "the log is captured: {log}");
    for (what, s) in [
        ("login token", token),
        ("pairing code", code),
        ("cookie", cookie.as_str()),
        ("device secret", secret.as_str()),
        ("guessed token", bad_token),
        ("guessed code", bad_code),
    ] {
        assert!(!log.contains(s), "the {what} is in the relay's log:\n{log}");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(db.parent().unwrap()).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let status = relay.terminate();
    assert!(status.success(), "SIGTERM is a clean exit: {status:?}");
    // Not unclaimed any more: the next start prints nothing.
    let relay = RelayProcess::start(&db);
    assert!(!relay.stdout.contains("login#"), "{}", relay.stdout);
    relay.kill9();
}

// Multi-threaded: the relay must keep answering while this thread waits for a child process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_against_a_running_relay() {
    let server = TestServer::start().await;
    let out = admin_command(&server.db, &["pair-code", "--name", "ci-box", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let code = v["code"].as_str().unwrap();
    assert!(v["command"].as_str().unwrap().starts_with("cr pair http://"));
    assert!(v["expires_at"].is_string());
    let res = server.post("/api/pair", None, &serde_json::json!({"code": code}).to_string()).await;
    assert_eq!(res.status, 200);

    let out = admin_command(&server.db, &["login-link", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["url"].as_str().unwrap().ends_with(v["token"].as_str().unwrap()));
    let out = admin_command(&server.db, &["login-link"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("/login#crl_"));

    let out = admin_command(&server.db, &["token", "create", "deploy", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let bearer = format!("Bearer {}", v["token"].as_str().unwrap());
    assert!(v["id"].as_str().unwrap().starts_with("tok_"));
    let res = server.request("GET", "/api/sessions", &[("authorization", &bearer)], None).await;
    assert_eq!(res.status, 200);

    let out = admin_command(&server.db, &["devices", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["name"], "ci-box");
    assert!(v[0].get("secret").is_none(), "no secret in the listing");
    let out = admin_command(&server.db, &["revoke", "dev_nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cr-server devices"));

    let listen = server.addr.to_string();
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_cr-server"))
        .args(["healthcheck", "--listen", &listen])
        .status()
        .unwrap();
    assert!(ok.success());
    let dead =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_cr-server"))
        .args(["healthcheck", "--listen", &dead])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test]
async fn revoking_from_another_process_closes_the_live_link() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let (mut link, _) = server.link(&device, "s-revoke").await;
    let out = admin_command(&server.db, &["revoke", &device.id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let close = link.closed().await.expect("a close frame");
    assert!(close.reason.contains("revoked"), "{}", close.reason);
    assert_eq!(Link::connect(server.addr, &device).await.err().unwrap().status, 401);
}

#[tokio::test]
async fn a_restarted_relay_continues_the_session_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = RelayProcess::start(&db);
    let device = pair_with(&relay, &db).await;
    let mut link = Link::connect(relay.addr, &device).await.unwrap();
    assert_eq!(link.hello("s-restart").await, 0);
    link.send(&lines(1..=100)).await;
    link.acked(100).await;
    link.send(&lines(101..=150)).await; // maybe stored, maybe not: cr re-sends either way
    assert!(relay.terminate().success());

    let relay = RelayProcess::start(&db);
    let mut link = Link::connect(relay.addr, &device).await.unwrap();
    let acked = link.hello("s-restart").await;
    assert!((100..=150).contains(&acked), "{acked}");
    link.send(&lines(acked + 1..=200)).await;
    link.acked(200).await;
    assert_eq!(output_seqs(&db, "s-restart"), (1..=200).collect::<Vec<_>>());
    relay.kill9();
    assert_eq!(integrity(&db), "ok");
}

#[tokio::test]
async fn kill_9_during_a_burst_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.db");
    let relay = RelayProcess::start(&db);
    let device = pair_with(&relay, &db).await;
    let mut link = Link::connect(relay.addr, &device).await.unwrap();
    link.hello("s-kill").await;

    // A burst: frames of lines sent as fast as the socket takes them, acks read as they come.
    const FRAMES: u64 = 400;
    const PER_FRAME: u64 = 50;
    let (mut sink, mut stream) = futures_util::StreamExt::split(link.ws);
    let mut sealer = link.sealer;
    let mut opener = link.opener;
    let sender = tokio::spawn(async move {
        use futures_util::SinkExt;
        for f in 0..FRAMES {
            let up = lines(f * PER_FRAME + 1..=(f + 1) * PER_FRAME);
            let frame = sealer.seal(&serde_json::to_vec(&up).unwrap());
            if sink
                .send(tokio_tungstenite::tungstenite::Message::Binary(frame.into()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    let mut acked = 0;
    let mut relay = Some(relay);
    within("the burst to end", async {
        while let Some(Ok(msg)) = futures_util::StreamExt::next(&mut stream).await {
            let tokio_tungstenite::tungstenite::Message::Binary(b) = msg else { continue };
            if let Ok(Downlink::Ack { seq }) = serde_json::from_slice(opener.open(&b).unwrap()) {
                acked = seq;
                // Mid-burst: kill the relay without warning.
                if acked >= FRAMES * PER_FRAME / 4
                    && let Some(r) = relay.take()
                {
                    r.kill9();
                }
            }
        }
    })
    .await;
    let _ = sender.await;
    assert!(relay.is_none(), "the relay was killed mid-burst (acked {acked})");
    assert!(acked < FRAMES * PER_FRAME, "the kill came before the end of the burst");
    assert_eq!(integrity(&db), "ok");
    let stored = output_seqs(&db, "s-kill");
    let want: Vec<u64> = (1..=acked).collect();
    assert_eq!(&stored[..acked as usize], &want[..], "every acknowledged line is there, once");
    assert!(stored.windows(2).all(|w| w[1] == w[0] + 1), "and nothing beyond them has a hole");
}
