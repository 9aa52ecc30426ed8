//! Identifiers that cross the wire, as transparent newtypes with one validation rule.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest identifier accepted from the wire, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// Why a string was refused as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The string was empty.
    #[error("id is empty")]
    Empty,
    /// The string was longer than [`MAX_ID_LEN`].
    #[error("id is longer than {MAX_ID_LEN} bytes")]
    TooLong,
    /// The string held something other than ASCII letters, digits, `-` and `_`.
    #[error("id may only contain ASCII letters, digits, '-' and '_'")]
    BadChar,
}

/// Checks the one rule every id follows: 1 to 64 bytes of `[A-Za-z0-9_-]`.
///
/// Ids end up in URLs, SQL keys and log lines, so anything else is refused at the edge.
pub fn validate_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(IdError::BadChar);
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps `s` after checking it with [`validate_id`].
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate_id(&s)?;
                Ok(Self(s))
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// One `cr` run. Chosen by `cr`, stable across reconnects and relay restarts.
    SessionId
);
id_type!(
    /// One question shown to the phone. Chosen by `cr`, unique within the relay.
    PromptId
);
id_type!(
    /// One paired workstation. Chosen by the relay at pairing.
    DeviceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids_and_refuses_the_rest() {
        assert!(SessionId::new("s_01HZX-abc").is_ok());
        assert_eq!(SessionId::new(""), Err(IdError::Empty));
        assert_eq!(SessionId::new("a".repeat(65)), Err(IdError::TooLong));
        assert!(SessionId::new("a".repeat(64)).is_ok());
        for bad in ["a b", "../etc", "a/b", "é", "a\0", "a%20"] {
            assert_eq!(PromptId::new(bad), Err(IdError::BadChar), "{bad:?}");
        }
    }

    #[test]
    fn deserializing_validates() {
        let ok: DeviceId = serde_json::from_str("\"dev-1\"").unwrap();
        assert_eq!(ok.as_str(), "dev-1");
        assert!(serde_json::from_str::<DeviceId>("\"../x\"").is_err());
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"dev-1\"");
    }
}
