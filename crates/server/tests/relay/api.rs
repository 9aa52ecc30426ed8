//! The HTTP API's auth rules, errors and headers.

use crate::common::*;

#[tokio::test]
async fn unauthenticated_requests_get_401_json() {
    let server = TestServer::start().await;
    for path in ["/api/sessions", "/api/sessions/x", "/api/sessions/x/transcript", "/events"] {
        let res = server.get(path, None).await;
        assert_eq!(res.status, 401, "{path}");
        assert!(res.error().contains("login"), "{path}: {}", res.text());
    }
    let res = server.get("/api/sessions", Some("cr_session=forged")).await;
    assert_eq!(res.status, 401);
    let res =
        server.request("GET", "/api/sessions", &[("authorization", "Bearer crt_nope")], None).await;
    assert_eq!(res.status, 401);
    let res = server.post("/api/prompts/p/approve", None, "{}").await;
    assert_eq!(res.status, 401);
    assert_eq!(server.get("/healthz", None).await.text(), "ok");
}

#[tokio::test]
async fn cross_origin_cookie_posts_are_403_and_bearer_is_exempt() {
    let server = TestServer::start().await;
    let cookie = server.login().await;
    let evil = [("origin", "https://evil.example"), ("cookie", cookie.as_str())];
    let res = server.request("POST", "/api/sessions/s/input", &evil, Some(r#"{"text":"x"}"#)).await;
    assert_eq!(res.status, 403);
    assert!(
        res.error().contains(&server.url()) && res.error().contains("--public-url"),
        "{}",
        res.error()
    );
    // No Origin and no Sec-Fetch-Site: refused too.
    let res = server.request("POST", "/api/logout", &[("cookie", cookie.as_str())], None).await;
    assert_eq!(res.status, 403);
    // Sec-Fetch-Site: same-origin stands in for a missing Origin.
    let res = server
        .request(
            "POST",
            "/api/sessions/s/input",
            &[("cookie", cookie.as_str()), ("sec-fetch-site", "same-origin")],
            Some(r#"{"text":"x"}"#),
        )
        .await;
    assert_eq!(res.status, 404, "{}", res.text());
    // Reads with the cookie need no Origin.
    assert_eq!(server.get("/api/sessions", Some(&cookie)).await.status, 200);
    // Login from another origin is refused before the token is spent.
    let token = server.login_token();
    let body = serde_json::json!({"token": token}).to_string();
    let res = server
        .request("POST", "/api/login", &[("origin", "https://evil.example")], Some(&body))
        .await;
    assert_eq!(res.status, 403);
    let res = server.request("POST", "/api/login", &[("origin", &server.url())], Some(&body)).await;
    assert_eq!(res.status, 200, "the token survived the refused attempt");
    // Bearer tokens carry no ambient authority: no Origin needed.
    let token =
        cr_server::mint::api_token(&server.admin().conn, "ci", cr_server::now()).unwrap().token;
    let bearer = format!("Bearer {token}");
    let res = server
        .request(
            "POST",
            "/api/sessions/s/input",
            &[("authorization", &bearer), ("origin", "https://evil.example")],
            Some(r#"{"text":"x"}"#),
        )
        .await;
    assert_eq!(res.status, 404);
}

#[tokio::test]
async fn login_tokens_and_pairing_codes_work_once_and_logout_ends_the_session() {
    let server = TestServer::start().await;
    let token = server.login_token();
    let body = serde_json::json!({"token": token}).to_string();
    let origin = [("origin", server.url())];
    let origin: Vec<(&str, &str)> = origin.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let res = server.request("POST", "/api/login", &origin, Some(&body)).await;
    assert_eq!(res.status, 200);
    let set = res.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=2592000"] {
        assert!(set.contains(attr), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http public URL");
    let cookie = set.split(';').next().unwrap().to_owned();
    let res = server.request("POST", "/api/login", &origin, Some(&body)).await;
    assert_eq!(res.status, 401, "a login token works once");

    let code = server.pairing_code("box");
    let pair = serde_json::json!({"code": code.to_lowercase(), "name": ""}).to_string();
    let res = server.post("/api/pair", None, &pair).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let device_id = res.json::<serde_json::Value>()["device_id"].as_str().unwrap().to_owned();
    assert!(device_id.starts_with("dev_"));
    assert_eq!(server.post("/api/pair", None, &pair).await.status, 401, "a code works once");
    let listed = cr_server::store::devices(&server.admin().conn).unwrap();
    assert_eq!(listed[0].name, "box", "the name given to pair-code");

    assert_eq!(server.get("/api/sessions", Some(&cookie)).await.status, 200);
    assert_eq!(server.post("/api/logout", Some(&cookie), "").await.status, 200);
    assert_eq!(server.get("/api/sessions", Some(&cookie)).await.status, 401);
}

#[tokio::test]
async fn malformed_bodies_are_400_with_a_message() {
    let server = TestServer::start().await;
    let cookie = server.login().await;
    let res = server.post("/api/pair", None, "{not json").await;
    assert_eq!(res.status, 400);
    assert!(res.error().contains("malformed JSON"), "{}", res.error());
    let res = server.post("/api/pair", None, r#"{"name":"x"}"#).await;
    assert_eq!(res.status, 400);
    assert!(res.error().contains("missing field `code`"), "{}", res.error());
    let res = server.post("/api/prompts/p/approve", Some(&cookie), r#"{"alway":true}"#).await;
    assert_eq!(res.status, 400);
    assert!(res.error().contains("unknown field `alway`"), "{}", res.error());
    let res = server.post("/api/prompts/p/answer", Some(&cookie), "{}").await;
    assert_eq!(res.status, 400);
    assert!(res.error().contains("option"), "{}", res.error());
    let res = server.get("/api/sessions/x/transcript?limit=lots", Some(&cookie)).await;
    assert_eq!(res.status, 400);
    let big = format!(r#"{{"text":"{}"}}"#, "x".repeat(70 * 1024));
    let res = server.post("/api/sessions/x/input", Some(&cookie), &big).await;
    assert_eq!(res.status, 413);
    assert_eq!(server.get("/api/nope", Some(&cookie)).await.status, 404);
}

#[tokio::test]
async fn failed_pairing_attempts_are_rate_limited() {
    let server = TestServer::start().await;
    let bad = r#"{"code":"AAAA-BBBB-CCCC"}"#;
    for i in 0..cr_server::ratelimit::MAX_FAILURES {
        assert_eq!(server.post("/api/pair", None, bad).await.status, 401, "attempt {i}");
    }
    let res = server.post("/api/pair", None, bad).await;
    assert_eq!(res.status, 429);
    let retry: u64 = res.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Even a good code waits out the block: guessing costs time, not just attempts.
    let good = serde_json::json!({"code": server.pairing_code("x")}).to_string();
    assert_eq!(server.post("/api/pair", None, &good).await.status, 429);
    let body = serde_json::json!({"token": "crl_wrong"}).to_string();
    let res = server.request("POST", "/api/login", &[("origin", &server.url())], Some(&body)).await;
    assert_eq!(res.status, 429, "one budget per address for pair and login");
}

/// A failed pairing attempt that a proxy forwarded for `client`.
async fn pair_from(server: &TestServer, client: &str) -> u16 {
    let url = server.url();
    let headers = [
        ("origin", url.as_str()),
        ("content-type", "application/json"),
        ("x-forwarded-for", client),
    ];
    server.request("POST", "/api/pair", &headers, Some(r#"{"code":"AAAA-BBBB-CCCC"}"#)).await.status
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let proxied = TestServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.trusted_proxies = vec![cr_server::config::IpNet::parse("127.0.0.1").unwrap()];
    })
    .await;
    for _ in 0..cr_server::ratelimit::MAX_FAILURES {
        assert_eq!(pair_from(&proxied, "203.0.113.1").await, 401);
    }
    assert_eq!(pair_from(&proxied, "203.0.113.1").await, 429);
    assert_eq!(pair_from(&proxied, "203.0.113.2").await, 401, "another client is not blocked");
    assert_eq!(
        pair_from(&proxied, "10.9.9.9, 203.0.113.1").await,
        429,
        "a forged left hop is ignored"
    );

    // Without a trusted proxy the header is the client's own claim and changes nothing.
    let direct = TestServer::start().await;
    for i in 0..cr_server::ratelimit::MAX_FAILURES {
        assert_eq!(pair_from(&direct, &format!("203.0.113.{i}")).await, 401);
    }
    assert_eq!(pair_from(&direct, "203.0.113.99").await, 429);
}

#[tokio::test]
async fn security_headers_on_every_response() {
    let server = TestServer::start().await;
    for path in ["/", "/login", "/healthz", "/api/sessions", "/nope.js"] {
        let res = server.get(path, None).await;
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(res.header("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
        assert_eq!(res.header("x-content-type-options").as_deref(), Some("nosniff"), "{path}");
        assert_eq!(res.header("x-frame-options").as_deref(), Some("DENY"), "{path}");
    }
    let page = server.get("/", None).await;
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.text().contains("<html"));
}

#[tokio::test]
async fn device_asks_for_a_login_link() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let ts = now_ms() / 1000;
    let nonce = fresh_nonce();
    let headers = signed_headers(&device, cr_proto::sign::LOGIN_LINK_CONTEXT, ts, &nonce);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let res = server.request("POST", "/api/device/login-link", &h, None).await;
    assert_eq!(res.status, 200, "{}", res.text());
    let link: cr_proto::LoginLink = res.json();
    assert_eq!(link.url, format!("{}/login#{}", server.url(), link.token));
    let body = serde_json::json!({"token": link.token}).to_string();
    let res = server.request("POST", "/api/login", &[("origin", &server.url())], Some(&body)).await;
    assert_eq!(res.status, 200);
    // The same signed request again is a replay.
    assert_eq!(server.request("POST", "/api/device/login-link", &h, None).await.status, 401);
    // A link handshake signature does not work here.
    let nonce = fresh_nonce();
    let headers = signed_headers(&device, cr_proto::sign::LINK_CONTEXT, ts, &nonce);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(server.request("POST", "/api/device/login-link", &h, None).await.status, 401);
}

#[tokio::test]
async fn transcript_pages_forwards_and_backwards() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let cookie = server.login().await;
    let (mut link, _) = server.link(&device, "s-pages").await;
    link.send(&lines(1..=50)).await;
    link.acked(50).await;
    let seqs = |res: Resp| {
        res.json::<Vec<cr_proto::TranscriptLine>>().iter().map(|l| l.seq).collect::<Vec<_>>()
    };
    assert_eq!(
        seqs(server.get("/api/sessions/s-pages/transcript?after=45", Some(&cookie)).await),
        [46, 47, 48, 49, 50]
    );
    assert_eq!(
        seqs(server.get("/api/sessions/s-pages/transcript?limit=3", Some(&cookie)).await),
        [1, 2, 3]
    );
    assert_eq!(
        seqs(server.get("/api/sessions/s-pages/transcript?before=10&limit=3", Some(&cookie)).await),
        [7, 8, 9]
    );
    assert_eq!(server.get("/api/sessions/none/transcript", Some(&cookie)).await.status, 404);
    let list: Vec<cr_proto::Session> = server.get("/api/sessions", Some(&cookie)).await.json();
    assert_eq!(list.len(), 1);
    link.send(&cr_proto::Uplink::Screen { screen: screen_of(&["hello   ", "", "x"]) }).await;
    let text = eventually("the screen", || {
        let (server, cookie) = (&server, &cookie);
        async move {
            let t = server.get("/api/sessions/s-pages/text", Some(cookie)).await.text();
            (!t.is_empty()).then_some(t)
        }
    })
    .await;
    assert_eq!(text, "hello\n\nx\n");
}

#[tokio::test]
async fn codes_tokens_and_cookies_are_stored_only_as_hashes() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let unused_code = server.pairing_code("spare");
    let unused_login = server.login_token();
    let cookie = server.login().await;
    let cookie = cookie.strip_prefix("cr_session=").unwrap().to_owned();
    let api = {
        let admin = server.admin();
        cr_server::mint::api_token(&admin.conn, "script", cr_server::now()).unwrap().token
    };
    let db = server.db.clone();
    let _dir = server.stop().await;
    let mut bytes = std::fs::read(&db).unwrap();
    if let Ok(wal) = std::fs::read(db.with_extension("db-wal")) {
        bytes.extend(wal);
    }
    let holds = |s: &str| bytes.windows(s.len()).any(|w| w == s.as_bytes());
    // What the relay must know in clear is there, so the search itself works.
    assert!(holds(&device.id), "the device id is stored");
    for (what, secret) in [
        ("pairing code", &unused_code),
        ("login token", &unused_login),
        ("cookie", &cookie),
        ("API token", &api),
    ] {
        assert!(!holds(secret), "the {what} is stored in clear");
    }
}

#[tokio::test]
async fn a_device_signature_cannot_answer_prompts_or_type() {
    let server = TestServer::start().await;
    let device = server.pair("laptop").await;
    let (mut link, _) = server.link(&device, "s-dev").await;
    link.send(&opened(1, tool_prompt("p-dev", "s-dev"))).await;
    link.acked(1).await;
    for (path, body) in
        [("/api/prompts/p-dev/approve", "{}"), ("/api/sessions/s-dev/input", r#"{"text":"y"}"#)]
    {
        for context in [cr_proto::sign::LOGIN_LINK_CONTEXT, cr_proto::sign::LINK_CONTEXT] {
            let headers = signed_headers(&device, context, now_ms() / 1000, &fresh_nonce());
            let mut h: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            h.push(("content-type", "application/json"));
            let res = server.request("POST", path, &h, Some(body)).await;
            assert_eq!(res.status, 401, "{path} with a {context} signature: {}", res.text());
        }
    }
    // The prompt is still waiting for a phone.
    let cookie = server.login().await;
    let detail: serde_json::Value = server.get("/api/sessions/s-dev", Some(&cookie)).await.json();
    assert_eq!(detail["status"], "waiting", "{detail}");
    assert_eq!(detail["pending"], 1, "{detail}");
}

#[tokio::test]
async fn codes_and_login_links_work_for_ten_minutes() {
    let server = TestServer::start().await;
    let ago = |min: i64| cr_proto::Timestamp(cr_server::now().0 - min * 60_000);
    let (admin, public) = (server.admin(), server.public_url());
    let fresh_code = cr_server::mint::pairing_code(&admin.conn, &public, "a", ago(9)).unwrap().code;
    let old_code = cr_server::mint::pairing_code(&admin.conn, &public, "b", ago(11)).unwrap().code;
    let fresh_login = cr_server::mint::login_link(&admin.conn, &public, "a", ago(9)).unwrap().token;
    let old_login = cr_server::mint::login_link(&admin.conn, &public, "b", ago(11)).unwrap().token;
    for (code, want) in [(old_code, 401), (fresh_code, 200)] {
        let body = serde_json::json!({"code": code}).to_string();
        let res = server.post("/api/pair", None, &body).await;
        assert_eq!(res.status, want, "{}", res.text());
    }
    let origin = server.url();
    for (token, want) in [(old_login, 401), (fresh_login, 200)] {
        let body = serde_json::json!({"token": token}).to_string();
        let res = server.request("POST", "/api/login", &[("origin", &origin)], Some(&body)).await;
        assert_eq!(res.status, want, "{}", res.text());
    }
}
