//! Requests a device makes to the relay over HTTP: pairing (`cr pair`) and a phone login
//! link (`cr qr`, signed like the link handshake with its own context).

use anyhow::{Context, Result, bail};

use cr_proto::{
    ErrorBody, LoginLink, PairRequest, PairResponse,
    sign::{self, LOGIN_LINK_CONTEXT},
};

use crate::{
    config::{Credentials, Saved},
    net::{self, REQUEST_TIMEOUT, ServerUrl},
};

/// `POST /api/pair`.
pub const PAIR_PATH: &str = "/api/pair";
/// `POST /api/device/login-link`.
pub const LOGIN_LINK_PATH: &str = "/api/device/login-link";

fn relay_error(what: &str, reply: &net::Reply) -> anyhow::Error {
    let msg =
        serde_json::from_slice::<ErrorBody>(&reply.body).map_or_else(|_| reply.text(), |e| e.error);
    anyhow::anyhow!("{what} failed ({}): {}", reply.status, msg.trim())
}

/// Exchanges a pairing code for a device id and secret.
pub async fn pair(server: &str, code: &str, name: &str) -> Result<Saved> {
    let url = ServerUrl::parse(server)?;
    let body =
        serde_json::to_vec(&PairRequest { code: code.trim().to_owned(), name: name.to_owned() })?;
    let reply = net::post_json(&url, PAIR_PATH, &[], body, REQUEST_TIMEOUT).await?;
    if reply.status != 200 {
        bail!(relay_error("pairing", &reply));
    }
    let r: PairResponse =
        serde_json::from_slice(&reply.body).context("the relay's pairing answer is malformed")?;
    Ok(Saved {
        server: url.to_string().trim_end_matches('/').to_owned(),
        device_id: r.device_id.to_string(),
        secret: r.secret,
    })
}

/// Asks the relay for a one-time phone login link.
pub async fn login_link(creds: &Credentials) -> Result<LoginLink> {
    let device = creds.device_id.as_str();
    let ts = crate::now().as_secs();
    let nonce = sign::nonce_hex(rand::random());
    let headers = sign::signed_headers(&creds.secret, LOGIN_LINK_CONTEXT, device, ts, &nonce);
    let reply =
        net::post_json(&creds.server, LOGIN_LINK_PATH, &headers, b"{}".to_vec(), REQUEST_TIMEOUT)
            .await?;
    if reply.status != 200 {
        bail!(relay_error("asking for a login link", &reply));
    }
    serde_json::from_slice(&reply.body).context("the relay's login link answer is malformed")
}

/// A QR code of `text` for the terminal (two rows per line, light quiet zone).
pub fn qr(text: &str) -> Result<String> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).context("the link is too long for a QR code")?;
    Ok(code
        .render::<qrcode::render::unicode::Dense1x2>()
        .dark_color(qrcode::render::unicode::Dense1x2::Light)
        .light_color(qrcode::render::unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qr_renders_with_half_blocks() {
        let q = qr("http://127.0.0.1:7700/login#abc").unwrap();
        assert!(q.lines().count() > 10);
        assert!(q.contains('▀') || q.contains('▄'));
    }
}
