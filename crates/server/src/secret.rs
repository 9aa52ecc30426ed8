//! Random ids, secrets, one-time codes and their hashes. Pure apart from the OS random source.
//!
//! Everything the relay only has to *recognise* later (pairing codes, login tokens, API tokens,
//! phone cookies) is a high-entropy random string stored as its SHA-256, so a copy of the
//! database does not log anyone in. A slow password hash would add nothing here: these strings
//! are not chosen by people and cannot be guessed offline.

use rand::TryRng;
use rand::rngs::SysRng;
use sha2::{Digest, Sha256};

/// Bytes of a device secret, login token, API token or phone cookie: 256 bits.
pub const TOKEN_BYTES: usize = 32;
/// Characters of a pairing code (without dashes): 60 bits of Crockford base32, short enough to
/// type, and only guessable online, where failed attempts are rate-limited and codes expire.
pub const PAIR_CODE_CHARS: usize = 12;
/// A dash after every this many characters of a pairing code.
const PAIR_CODE_GROUP: usize = 4;
/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or off a screen is typed right.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// URL-safe base64 alphabet (RFC 4648 §5), for tokens that travel in URLs' fragments and cookies.
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// `n` bytes from the operating system's random source.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing means the machine cannot make secrets at all; nothing sensible follows.
    SysRng.try_fill_bytes(&mut buf).expect("the operating system's random source failed");
    buf
}

/// Unpadded base64url of `bytes`.
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(BASE64URL[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// A fresh 256-bit token with a readable prefix (`crs_`, `crl_`…), so a leaked string says
/// what it is.
pub fn token(prefix: &str) -> String {
    format!("{prefix}{}", base64url(&random_bytes::<TOKEN_BYTES>()))
}

/// A fresh device id, `dev_` and 16 base32 characters (80 bits: unique, not secret).
pub fn device_id() -> String {
    let bytes = random_bytes::<10>();
    format!("dev_{}", base32(&bytes).to_lowercase())
}

/// A fresh API token id, `tok_` and 16 base32 characters (not secret: it names the token).
pub fn token_id() -> String {
    let bytes = random_bytes::<10>();
    format!("tok_{}", base32(&bytes).to_lowercase())
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = acc << 8 | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(CROCKFORD[(acc >> bits & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(CROCKFORD[(acc << (5 - bits) & 31) as usize] as char);
    }
    out
}

/// A fresh pairing code, `ABCD-EFGH-JKMN`.
pub fn pairing_code() -> String {
    let bytes = random_bytes::<8>();
    let chars = &base32(&bytes)[..PAIR_CODE_CHARS];
    let groups: Vec<&str> = chars
        .as_bytes()
        .chunks(PAIR_CODE_GROUP)
        .map(|g| std::str::from_utf8(g).expect("base32 is ASCII"))
        .collect();
    groups.join("-")
}

/// The canonical form of a typed pairing code: case-insensitive, dashes and spaces ignored,
/// and Crockford's look-alikes folded (`O`→`0`, `I`/`L`→`1`). `None` if it cannot be a code.
pub fn normalize_pairing_code(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(PAIR_CODE_CHARS);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c if c.is_ascii() && CROCKFORD.contains(&(c as u8)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == PAIR_CODE_CHARS).then_some(out)
}

/// Lowercase hex SHA-256 of `secret`: the form in which one-time codes and tokens are stored.
pub fn hash(secret: &str) -> String {
    cr_proto::sign::hex(&Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), want, "{input:?}");
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = token("crl_");
        let b = token("crl_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 43, "256 bits are 43 base64url characters");
        assert!(a[4..].bytes().all(|c| BASE64URL.contains(&c)));
    }

    #[test]
    fn device_ids_pass_the_proto_id_rule() {
        let id = device_id();
        assert!(id.starts_with("dev_") && id.len() == 20, "{id}");
        assert!(cr_proto::validate_id(&id).is_ok());
        assert!(cr_proto::validate_id(&token_id()).is_ok());
    }

    #[test]
    fn pairing_codes_round_trip_through_sloppy_typing() {
        let code = pairing_code();
        assert_eq!(code.len(), 14, "{code}");
        assert_eq!(code.as_bytes()[4], b'-');
        let canon = normalize_pairing_code(&code).unwrap();
        assert_eq!(normalize_pairing_code(&code.to_lowercase()).as_ref(), Some(&canon));
        assert_eq!(normalize_pairing_code(&code.replace('-', " ")).as_ref(), Some(&canon));
        assert_eq!(normalize_pairing_code("abcd-efgh-jkmo").unwrap(), "ABCDEFGHJKM0");
        assert_eq!(normalize_pairing_code("ilil-0000-1111").unwrap(), "111100001111");
        assert_eq!(normalize_pairing_code("ABCD-EFGH-JKM"), None, "too short");
        assert_eq!(normalize_pairing_code("ABCD-EFGH-JKMU"), None, "U is not Crockford");
        assert_eq!(normalize_pairing_code("ABCD-EFGH-JKMÉ"), None);
    }

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
