//! `Session`: one `cr` run as the relay and the phone see it.

use serde::{Deserialize, Serialize};

use crate::{SessionId, Timestamp};

/// Where a session stands. `waiting` wins over `running` while a prompt is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Linked and not waiting for an answer.
    Running,
    /// Linked, with at least one pending prompt.
    Waiting,
    /// The `cr` link is down but the session has not ended.
    Disconnected,
    /// The command exited.
    Ended,
}

impl SessionStatus {
    /// The wire name (`running`, `waiting`, …), also used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Waiting => "waiting",
            Self::Disconnected => "disconnected",
            Self::Ended => "ended",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => Self::Running,
            "waiting" => Self::Waiting,
            "disconnected" => Self::Disconnected,
            "ended" => Self::Ended,
            _ => return None,
        })
    }
}

/// A session as listed by `GET /api/sessions` and carried by `session_*` feed events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Chosen by `cr`; survives reconnects and relay restarts.
    pub id: SessionId,
    /// The `--name` label, or the working directory's last component.
    pub name: String,
    /// The name of the paired device the session runs on.
    pub device: String,
    /// The command line, as the user would type it.
    pub command: String,
    /// The working directory of the command.
    pub cwd: String,
    /// Current status.
    pub status: SessionStatus,
    /// When `cr` started the command.
    pub started_at: Timestamp,
    /// When the command exited (null while it runs).
    pub ended_at: Option<Timestamp>,
    /// The command's exit code once ended: 128+N for a signal, null if unknown.
    pub exit_code: Option<i32>,
    /// How many prompts are pending.
    pub pending: u32,
    /// The terminal title the command last set (OSC 0/2), empty if none.
    #[serde(default)]
    pub title: String,
}

/// Session metadata `cr` sends in its `hello`; the relay adds device, status and counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionMeta {
    /// The session id `cr` chose for this run.
    pub id: SessionId,
    /// Display label.
    pub name: String,
    /// The command line.
    pub command: String,
    /// Working directory.
    pub cwd: String,
    /// When the command started.
    pub started_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in [
            SessionStatus::Running,
            SessionStatus::Waiting,
            SessionStatus::Disconnected,
            SessionStatus::Ended,
        ] {
            assert_eq!(SessionStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{}\"", s.as_str()));
        }
        assert_eq!(SessionStatus::parse("Running"), None);
    }

    #[test]
    fn session_json_has_the_spec_keys() {
        let s = Session {
            id: SessionId::new("s1").unwrap(),
            name: "proj".into(),
            device: "laptop".into(),
            command: "claude".into(),
            cwd: "/home/u/proj".into(),
            status: SessionStatus::Running,
            started_at: Timestamp(0),
            ended_at: None,
            exit_code: None,
            pending: 0,
            title: String::new(),
        };
        let v = serde_json::to_value(&s).unwrap();
        for key in [
            "id",
            "name",
            "device",
            "command",
            "cwd",
            "status",
            "started_at",
            "ended_at",
            "exit_code",
            "pending",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v["ended_at"].is_null());
        assert_eq!(serde_json::from_value::<Session>(v).unwrap(), s);
    }
}
