//! `Input`: text and keys the phone sends to a session, for what the prompt cards don't cover.

use serde::{Deserialize, Serialize};

use crate::MAX_MESSAGE_LEN;

/// Most keys accepted in one input request.
pub const MAX_KEYS: usize = 64;

/// A named key. The wire names are the ones the `input` route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Key {
    /// Escape.
    Esc,
    /// Return.
    Enter,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Arrow left.
    Left,
    /// Arrow right.
    Right,
    /// Tab.
    Tab,
    /// Shift+Tab (back-tab; cycles Claude Code's permission modes).
    ShiftTab,
    /// Backspace.
    Backspace,
    /// Space.
    Space,
    /// Interrupt.
    CtrlC,
    /// End of input.
    CtrlD,
}

/// Something to type into the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Input {
    /// Text, typed as is (bracketed paste if it has several lines); then Enter if `submit`.
    Text {
        /// The text.
        text: String,
        /// Press Enter afterwards, as a separate write.
        #[serde(default)]
        submit: bool,
    },
    /// Keys, pressed in order.
    Keys {
        /// The keys.
        keys: Vec<Key>,
    },
}

/// Why an input request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Neither text nor keys, or both.
    #[error("send either {{\"text\": \"…\", \"submit\": true}} or {{\"keys\": [\"esc\", …]}}")]
    Shape,
    /// Longer than [`MAX_MESSAGE_LEN`] bytes.
    #[error("text is longer than {MAX_MESSAGE_LEN} bytes")]
    TooLong,
    /// More than [`MAX_KEYS`] keys, or none.
    #[error("send between 1 and {MAX_KEYS} keys")]
    KeyCount,
    /// Control characters other than tab and newline in the text.
    #[error("text may not contain control characters (send keys for those)")]
    ControlChars,
}

impl Input {
    /// Checks size limits and refuses control characters in text, which could otherwise
    /// smuggle escape sequences past the page's key buttons.
    pub fn validate(&self) -> Result<(), InputError> {
        match self {
            Input::Text { text, submit } => {
                if text.is_empty() && !submit {
                    return Err(InputError::Shape);
                }
                if text.len() > MAX_MESSAGE_LEN {
                    return Err(InputError::TooLong);
                }
                if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    return Err(InputError::ControlChars);
                }
                Ok(())
            }
            Input::Keys { keys } if keys.is_empty() || keys.len() > MAX_KEYS => {
                Err(InputError::KeyCount)
            }
            Input::Keys { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_match_the_route() {
        let keys: Vec<Key> =
            serde_json::from_str(r#"["esc","enter","up","down","tab","ctrl-c","shift-tab"]"#)
                .unwrap();
        assert_eq!(
            keys,
            [Key::Esc, Key::Enter, Key::Up, Key::Down, Key::Tab, Key::CtrlC, Key::ShiftTab]
        );
        assert!(serde_json::from_str::<Key>("\"ctrl-z\"").is_err());
    }

    #[test]
    fn validation() {
        let text = |t: &str, submit| Input::Text { text: t.into(), submit };
        assert!(text("ls -la", true).validate().is_ok());
        assert!(text("two\nlines", false).validate().is_ok());
        assert!(text("", true).validate().is_ok(), "a bare Enter is fine");
        assert_eq!(text("", false).validate(), Err(InputError::Shape));
        assert_eq!(text("\u{1b}[201~rm -rf /", true).validate(), Err(InputError::ControlChars));
        assert_eq!(
            text(&"x".repeat(MAX_MESSAGE_LEN + 1), false).validate(),
            Err(InputError::TooLong)
        );
        assert_eq!(Input::Keys { keys: vec![] }.validate(), Err(InputError::KeyCount));
        assert_eq!(
            Input::Keys { keys: vec![Key::Up; MAX_KEYS + 1] }.validate(),
            Err(InputError::KeyCount)
        );
    }
}
