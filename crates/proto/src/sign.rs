//! The link's authentication: the handshake signature and the per-frame MAC.
//!
//! Everything here is a pure function of its inputs; randomness (nonces) and clocks come from
//! the caller. Tags are compared with [`Mac::verify_slice`], which is constant-time.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Context string of the WebSocket handshake signature.
pub const LINK_CONTEXT: &str = "cr-link-v1";
/// Context string of a device's request for a phone login link (`cr qr`).
pub const LOGIN_LINK_CONTEXT: &str = "cr-login-link-v1";
/// How far a signed timestamp may be from the verifier's clock, in seconds.
pub const MAX_CLOCK_SKEW_SECS: i64 = 120;
/// Random bytes in a nonce (128 bits); on the wire as 32 lowercase hex digits.
pub const NONCE_BYTES: usize = 16;
/// Bytes of a frame header: 8 of sequence number and 32 of tag.
pub const FRAME_HEADER_BYTES: usize = 8 + TAG_BYTES;
/// Largest frame either side accepts, header included.
pub const MAX_FRAME_BYTES: usize = 4 << 20;

const TAG_BYTES: usize = 32;

/// Header carrying the device id.
pub const HEADER_DEVICE: &str = "x-cr-device";
/// Header carrying the unix time in seconds.
pub const HEADER_TIMESTAMP: &str = "x-cr-timestamp";
/// Header carrying the nonce.
pub const HEADER_NONCE: &str = "x-cr-nonce";
/// Header carrying the signature.
pub const HEADER_SIGNATURE: &str = "x-cr-signature";

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length")
}

/// The signed string: `"{context}\n{device}\n{timestamp}\n{nonce}"`.
pub fn signing_string(context: &str, device: &str, timestamp: i64, nonce: &str) -> String {
    format!("{context}\n{device}\n{timestamp}\n{nonce}")
}

fn tag(secret: &str, context: &str, device: &str, timestamp: i64, nonce: &str) -> HmacSha256 {
    let mut mac = keyed(secret.as_bytes());
    mac.update(signing_string(context, device, timestamp, nonce).as_bytes());
    mac
}

/// Lowercase hex HMAC-SHA256 keyed with the device secret over [`signing_string`].
pub fn sign(secret: &str, context: &str, device: &str, timestamp: i64, nonce: &str) -> String {
    hex(&tag(secret, context, device, timestamp, nonce).finalize().into_bytes())
}

/// The four headers of a signed device request (device, timestamp, nonce, [`sign`]ature).
pub fn signed_headers(
    secret: &str,
    context: &str,
    device: &str,
    timestamp: i64,
    nonce: &str,
) -> [(&'static str, String); 4] {
    [
        (HEADER_DEVICE, device.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_NONCE, nonce.to_owned()),
        (HEADER_SIGNATURE, sign(secret, context, device, timestamp, nonce)),
    ]
}

/// Checks a signature in constant time. Malformed hex is simply a mismatch.
pub fn verify(
    secret: &str,
    context: &str,
    device: &str,
    timestamp: i64,
    nonce: &str,
    signature: &str,
) -> bool {
    let Some(given) = unhex(signature) else { return false };
    tag(secret, context, device, timestamp, nonce).verify_slice(&given).is_ok()
}

/// True when `timestamp` (unix seconds) is within [`MAX_CLOCK_SKEW_SECS`] of `now`.
pub fn fresh(timestamp: i64, now: i64) -> bool {
    timestamp.abs_diff(now) <= MAX_CLOCK_SKEW_SECS as u64
}

/// The wire form of a nonce made of `bytes`.
pub fn nonce_hex(bytes: [u8; NONCE_BYTES]) -> String {
    hex(&bytes)
}

/// True when `s` is a well-formed nonce: exactly 32 lowercase hex digits.
pub fn nonce_ok(s: &str) -> bool {
    s.len() == NONCE_BYTES * 2 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Bytes of lowercase or uppercase hex; `None` for odd length or a non-hex digit.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes().chunks(2).map(|p| Some(digit(p[0])? << 4 | digit(p[1])?)).collect()
}

/// The two frame keys of one connection, one per direction.
///
/// `key_dir = HMAC-SHA256(secret, "cr-link-v1 {uplink|downlink}\n{device}\n{timestamp}\n{nonce}")`.
/// The nonce is unique per connection (the relay refuses one it has seen), so keys never repeat
/// across connections, and the direction in the label keeps a frame from being reflected.
#[derive(Clone)]
pub struct LinkKeys {
    uplink: [u8; 32],
    downlink: [u8; 32],
}

impl fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKeys(<redacted>)")
    }
}

impl LinkKeys {
    /// Derives both keys from the handshake's values.
    pub fn derive(secret: &str, device: &str, timestamp: i64, nonce: &str) -> Self {
        let key = |dir: &str| -> [u8; 32] {
            let context = format!("{LINK_CONTEXT} {dir}");
            tag(secret, &context, device, timestamp, nonce).finalize().into_bytes().into()
        };
        Self { uplink: key("uplink"), downlink: key("downlink") }
    }

    /// `cr`'s ends: seal uplink frames, open downlink frames.
    pub fn client(&self) -> (FrameSealer, FrameOpener) {
        (FrameSealer::new(&self.uplink), FrameOpener::new(&self.downlink))
    }

    /// The relay's ends: seal downlink frames, open uplink frames.
    pub fn server(&self) -> (FrameSealer, FrameOpener) {
        (FrameSealer::new(&self.downlink), FrameOpener::new(&self.uplink))
    }
}

/// Why a frame was refused. Any of these closes the link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than the header.
    #[error("frame of {0} bytes is shorter than its {FRAME_HEADER_BYTES}-byte header")]
    Short(usize),
    /// Larger than [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes is larger than {MAX_FRAME_BYTES}")]
    TooLarge(usize),
    /// The tag does not match: forged, tampered with, or from another connection.
    #[error("frame MAC does not verify")]
    BadMac,
    /// Authentic, but not the next frame: replayed, reordered or dropped.
    #[error("frame sequence {got}, expected {expected}")]
    Sequence {
        /// The sequence number the receiver waited for.
        expected: u64,
        /// The one the frame carried.
        got: u64,
    },
}

/// Seals outgoing frames of one direction: numbers them from 0 and appends the tag.
pub struct FrameSealer {
    mac: HmacSha256,
    next: u64,
}

impl fmt::Debug for FrameSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameSealer").field("next", &self.next).finish_non_exhaustive()
    }
}

impl FrameSealer {
    fn new(key: &[u8; 32]) -> Self {
        Self { mac: keyed(key), next: 0 }
    }

    /// `seq (u64 BE) ‖ HMAC(key, seq ‖ payload) ‖ payload`.
    pub fn seal(&mut self, payload: &[u8]) -> Vec<u8> {
        let seq = self.next.to_be_bytes();
        self.next += 1;
        let mut mac = self.mac.clone();
        mac.update(&seq);
        mac.update(payload);
        let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
        frame.extend_from_slice(&seq);
        frame.extend_from_slice(&mac.finalize().into_bytes());
        frame.extend_from_slice(payload);
        frame
    }
}

/// Opens incoming frames of one direction, in order.
pub struct FrameOpener {
    mac: HmacSha256,
    next: u64,
}

impl fmt::Debug for FrameOpener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameOpener").field("next", &self.next).finish_non_exhaustive()
    }
}

impl FrameOpener {
    fn new(key: &[u8; 32]) -> Self {
        Self { mac: keyed(key), next: 0 }
    }

    /// The payload of an authentic frame that is exactly the next one; the MAC is checked
    /// first, so a forged frame never reveals what sequence number is expected.
    pub fn open<'a>(&mut self, frame: &'a [u8]) -> Result<&'a [u8], FrameError> {
        if frame.len() > MAX_FRAME_BYTES {
            return Err(FrameError::TooLarge(frame.len()));
        }
        if frame.len() < FRAME_HEADER_BYTES {
            return Err(FrameError::Short(frame.len()));
        }
        let (seq, rest) = frame.split_at(8);
        let (given, payload) = rest.split_at(TAG_BYTES);
        let mut mac = self.mac.clone();
        mac.update(seq);
        mac.update(payload);
        mac.verify_slice(given).map_err(|_| FrameError::BadMac)?;
        let got = u64::from_be_bytes(seq.try_into().expect("split at 8"));
        if got != self.next {
            return Err(FrameError::Sequence { expected: self.next, got });
        }
        self.next += 1;
        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_headers_carry_the_signature_of_their_own_values() {
        let h = signed_headers("secret", "ctx", "dev-1", 1_700_000_000, "ab12");
        let value = |name: &str| h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
        assert_eq!(value(HEADER_DEVICE).as_deref(), Some("dev-1"));
        assert_eq!(value(HEADER_TIMESTAMP).as_deref(), Some("1700000000"));
        assert_eq!(value(HEADER_NONCE).as_deref(), Some("ab12"));
        let sig = value(HEADER_SIGNATURE).unwrap();
        assert!(verify("secret", "ctx", "dev-1", 1_700_000_000, "ab12", &sig));
        assert!(!verify("secret", "other", "dev-1", 1_700_000_000, "ab12", &sig));
    }

    const SECRET: &str = "device-secret-0123456789";
    const NONCE: &str = "00112233445566778899aabbccddeeff";

    #[test]
    fn signature_is_hmac_sha256_of_the_documented_string() {
        // Independent check of the layout: RFC 4231 test case 2 pins HMAC-SHA256 itself.
        let mut mac = keyed(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            signing_string(LINK_CONTEXT, "d1", 1700000000, NONCE),
            format!("cr-link-v1\nd1\n1700000000\n{NONCE}")
        );
        let mut mac = keyed(SECRET.as_bytes());
        mac.update(format!("cr-link-v1\nd1\n1700000000\n{NONCE}").as_bytes());
        let want = hex(&mac.finalize().into_bytes());
        assert_eq!(sign(SECRET, LINK_CONTEXT, "d1", 1700000000, NONCE), want);
        assert_eq!(want.len(), 64);
        assert!(want.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
    }

    #[test]
    fn verify_refuses_any_changed_input() {
        let sig = sign(SECRET, LINK_CONTEXT, "d1", 1700000000, NONCE);
        assert!(verify(SECRET, LINK_CONTEXT, "d1", 1700000000, NONCE, &sig));
        assert!(verify(SECRET, LINK_CONTEXT, "d1", 1700000000, NONCE, &sig.to_uppercase()));
        assert!(!verify("other", LINK_CONTEXT, "d1", 1700000000, NONCE, &sig));
        assert!(!verify(SECRET, LOGIN_LINK_CONTEXT, "d1", 1700000000, NONCE, &sig));
        assert!(!verify(SECRET, LINK_CONTEXT, "d2", 1700000000, NONCE, &sig));
        assert!(!verify(SECRET, LINK_CONTEXT, "d1", 1700000001, NONCE, &sig));
        let other_nonce = "f0112233445566778899aabbccddeeff";
        assert!(!verify(SECRET, LINK_CONTEXT, "d1", 1700000000, other_nonce, &sig));
        assert!(!verify(SECRET, LINK_CONTEXT, "d1", 1700000000, NONCE, &sig[..62]));
        assert!(!verify(SECRET, LINK_CONTEXT, "d1", 1700000000, NONCE, ""));
        assert!(!verify(
            SECRET,
            LINK_CONTEXT,
            "d1",
            1700000000,
            NONCE,
            &format!("{}zz", &sig[..62])
        ));
    }

    #[test]
    fn freshness_window() {
        assert!(fresh(1000, 1000));
        assert!(fresh(880, 1000) && fresh(1120, 1000));
        assert!(!fresh(879, 1000) && !fresh(1121, 1000));
        assert!(!fresh(i64::MIN, 1000) && !fresh(i64::MAX, 1000));
    }

    #[test]
    fn nonce_format() {
        assert!(nonce_ok(NONCE));
        assert!(nonce_ok(&nonce_hex([0xab; 16])));
        assert!(!nonce_ok(&NONCE.to_uppercase()));
        assert!(!nonce_ok(&NONCE[..30]));
        assert!(!nonce_ok(&format!("{NONCE}00")));
        assert!(!nonce_ok("g0112233445566778899aabbccddeeff"));
    }

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)).unwrap(), bytes);
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    fn pair() -> (FrameSealer, FrameOpener, FrameSealer, FrameOpener) {
        let keys = LinkKeys::derive(SECRET, "d1", 1700000000, NONCE);
        let (c_seal, c_open) = keys.client();
        let (s_seal, s_open) = keys.server();
        (c_seal, s_open, s_seal, c_open)
    }

    #[test]
    fn frames_round_trip_both_ways() {
        let (mut up_seal, mut up_open, mut down_seal, mut down_open) = pair();
        for i in 0..5u8 {
            let msg = vec![i; usize::from(i) * 10];
            let f = up_seal.seal(&msg);
            assert_eq!(f.len(), FRAME_HEADER_BYTES + msg.len());
            assert_eq!(&f[..8], &u64::from(i).to_be_bytes());
            assert_eq!(up_open.open(&f).unwrap(), msg.as_slice());
            let f = down_seal.seal(b"welcome");
            assert_eq!(down_open.open(&f).unwrap(), b"welcome");
        }
    }

    #[test]
    fn tampered_frames_are_refused() {
        let (mut seal, mut open, ..) = pair();
        let good = seal.seal(b"{\"type\":\"heartbeat\"}");
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert!(open.open(&bad).is_err(), "flipping byte {i} went unnoticed");
        }
        let mut longer = good.clone();
        longer.push(b' ');
        assert_eq!(open.open(&longer), Err(FrameError::BadMac));
        assert_eq!(open.open(&good[..good.len() - 1]), Err(FrameError::BadMac));
        assert_eq!(open.open(&good[..10]), Err(FrameError::Short(10)));
        // The untouched frame still opens: failures do not advance the sequence.
        assert!(open.open(&good).is_ok());
    }

    #[test]
    fn replayed_and_reordered_frames_are_refused() {
        let (mut seal, mut open, ..) = pair();
        let f0 = seal.seal(b"zero");
        let f1 = seal.seal(b"one");
        let f2 = seal.seal(b"two");
        assert!(open.open(&f0).is_ok());
        assert_eq!(open.open(&f0), Err(FrameError::Sequence { expected: 1, got: 0 }));
        assert_eq!(open.open(&f2), Err(FrameError::Sequence { expected: 1, got: 2 }));
        assert!(open.open(&f1).is_ok());
        assert!(open.open(&f2).is_ok());
    }

    #[test]
    fn frames_do_not_cross_connections_or_directions() {
        let (mut seal_a, ..) = pair();
        let other = LinkKeys::derive(SECRET, "d1", 1700000000, "ffffffffffffffffffffffffffffffff");
        let (_, mut open_b) = other.server();
        assert_eq!(open_b.open(&seal_a.seal(b"hi")), Err(FrameError::BadMac));

        // An uplink frame reflected back as downlink does not open.
        let (mut up_seal, _, _, mut down_open) = pair();
        assert_eq!(down_open.open(&up_seal.seal(b"hi")), Err(FrameError::BadMac));

        // Another device's secret gives other keys.
        let stranger = LinkKeys::derive("other-secret", "d1", 1700000000, NONCE);
        let (mut s_seal, _) = stranger.client();
        let (_, mut open) = LinkKeys::derive(SECRET, "d1", 1700000000, NONCE).server();
        assert_eq!(open.open(&s_seal.seal(b"hi")), Err(FrameError::BadMac));
    }

    #[test]
    fn oversized_frames_are_refused_before_hashing() {
        let (_, mut open, ..) = pair();
        let huge = vec![0u8; MAX_FRAME_BYTES + 1];
        assert_eq!(open.open(&huge), Err(FrameError::TooLarge(MAX_FRAME_BYTES + 1)));
    }

    #[test]
    fn keys_do_not_show_in_debug() {
        let keys = LinkKeys::derive(SECRET, "d1", 1, NONCE);
        assert_eq!(format!("{keys:?}"), "LinkKeys(<redacted>)");
    }
}
