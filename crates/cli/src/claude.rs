//! Which Claude Code a command starts, read from the files of its installation (never by
//! running it: `claude --version` costs a Node start before the session can begin).
//!
//! The version decides how `cr` hears `PermissionRequest`: 2.1.112 and later POST hook calls
//! to a URL themselves (`"type":"http"`), which spares a process start on every question and
//! every answer; 2.0.x rejects settings with that hook type, so anything older or unknown gets
//! the `cr hook` command (research/claude-code.md §4.1).

use std::path::{Path, PathBuf};

/// A release number, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl Version {
    /// Parses `2.1.112` (a suffix after `-` or `+` is ignored).
    pub fn parse(s: &str) -> Option<Self> {
        let core = s.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
        let v = Self(parts.next()??, parts.next()??, parts.next()??);
        parts.next().is_none().then_some(v)
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The first version known to run `http` hooks with `headers` and `allowedEnvVars`
/// (checked live on 2.1.112 and 2.1.329; absent in 2.0.76).
pub const HTTP_HOOKS_SINCE: Version = Version(2, 1, 112);

/// How Claude Code reaches `cr` for a `PermissionRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum HookTransport {
    /// `http` when the installed version is known to support it, else `command`.
    #[default]
    Auto,
    /// Claude Code POSTs the call to `cr`'s loopback server.
    Http,
    /// Claude Code runs `cr hook`, which forwards the call.
    Command,
}

impl HookTransport {
    /// Settles `Auto` for `program` (`argv[0]` of the command, looked up in `path`).
    pub fn resolve(self, program: &str, path: Option<&std::ffi::OsStr>) -> Self {
        match self {
            Self::Auto => match installed_version(program, path) {
                Some(v) if v >= HTTP_HOOKS_SINCE => Self::Http,
                _ => Self::Command,
            },
            other => other,
        }
    }
}

/// The version of the Claude Code that `program` runs, if its installation says.
///
/// Layouts understood, after following symlinks from the program found on `path`:
/// - npm: `…/node_modules/@anthropic-ai/claude-code/cli.js` beside its `package.json`,
///   and the native packages (`@anthropic-ai/claude-code-linux-x64/claude`) likewise;
/// - a launcher in `bin/` next to such a package (`bin/claude` and `package/package.json`);
/// - the native installer: `~/.local/share/claude/versions/2.1.112`.
pub fn installed_version(program: &str, path: Option<&std::ffi::OsStr>) -> Option<Version> {
    let exe = std::fs::canonicalize(find_program(program, path)?).ok()?;
    if let Some(v) = exe.file_name().and_then(|n| n.to_str()).and_then(Version::parse) {
        return Some(v);
    }
    let dir = exe.parent()?;
    let candidates = [
        dir.join("package.json"),
        dir.join("../package.json"),
        dir.join("../package/package.json"),
    ];
    candidates.iter().find_map(|p| package_version(p))
}

/// `version` of a Claude Code `package.json`; `None` for any other package.
fn package_version(path: &Path) -> Option<Version> {
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
        version: String,
    }
    let text = std::fs::read_to_string(path).ok()?;
    let p: Package = serde_json::from_str(&text).ok()?;
    p.name.starts_with("@anthropic-ai/claude-code").then(|| Version::parse(&p.version)).flatten()
}

/// The file `program` names: itself when it has a slash, else the first executable match
/// in `path` (as `execvp` would pick).
fn find_program(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    std::env::split_paths(path?).map(|d| d.join(program)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn executable(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn package(dir: &Path, name: &str, version: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let json = serde_json::json!({ "name": name, "version": version });
        std::fs::write(dir.join("package.json"), json.to_string()).unwrap();
    }

    #[test]
    fn versions_parse_and_order() {
        assert_eq!(Version::parse("2.1.112"), Some(Version(2, 1, 112)));
        assert_eq!(Version::parse(" 2.0.76\n"), Some(Version(2, 0, 76)));
        assert_eq!(Version::parse("2.1.0-beta.1"), Some(Version(2, 1, 0)));
        for bad in ["", "2.1", "2.1.x", "2.1.1.1", "claude", "v2.1.1"] {
            assert_eq!(Version::parse(bad), None, "{bad:?}");
        }
        assert!(Version(2, 0, 76) < HTTP_HOOKS_SINCE);
        assert!(Version(2, 1, 111) < HTTP_HOOKS_SINCE);
        assert!(Version(2, 1, 329) > HTTP_HOOKS_SINCE);
        assert!(Version(3, 0, 0) > HTTP_HOOKS_SINCE);
    }

    #[test]
    fn npm_install_is_found_through_the_bin_symlink_on_path() {
        let t = tempfile::tempdir().unwrap();
        let pkg = t.path().join("lib/node_modules/@anthropic-ai/claude-code");
        package(&pkg, "@anthropic-ai/claude-code", "2.1.112");
        executable(&pkg.join("cli.js"));
        std::fs::create_dir_all(t.path().join("bin")).unwrap();
        symlink(
            "../lib/node_modules/@anthropic-ai/claude-code/cli.js",
            t.path().join("bin/claude"),
        )
        .unwrap();
        let path =
            std::env::join_paths([t.path().join("nothing-here"), t.path().join("bin")]).unwrap();
        assert_eq!(installed_version("claude", Some(&path)), Some(Version(2, 1, 112)));
        assert_eq!(HookTransport::Auto.resolve("claude", Some(&path)), HookTransport::Http);
        // Named by path, it needs no PATH.
        let by_path = t.path().join("bin/claude");
        assert_eq!(installed_version(by_path.to_str().unwrap(), None), Some(Version(2, 1, 112)));
    }

    #[test]
    fn launcher_beside_a_package_and_the_native_installer_layout() {
        let t = tempfile::tempdir().unwrap();
        // tests/claude/install.sh: <version>/bin/claude and <version>/package/package.json.
        package(&t.path().join("a/package"), "@anthropic-ai/claude-code", "2.0.76");
        executable(&t.path().join("a/bin/claude"));
        let a = std::env::join_paths([t.path().join("a/bin")]).unwrap();
        assert_eq!(installed_version("claude", Some(&a)), Some(Version(2, 0, 76)));
        assert_eq!(HookTransport::Auto.resolve("claude", Some(&a)), HookTransport::Command);
        // ~/.local/bin/claude -> ~/.local/share/claude/versions/2.1.329
        executable(&t.path().join("share/claude/versions/2.1.329"));
        std::fs::create_dir_all(t.path().join("b")).unwrap();
        symlink(t.path().join("share/claude/versions/2.1.329"), t.path().join("b/claude")).unwrap();
        let b = std::env::join_paths([t.path().join("b")]).unwrap();
        assert_eq!(installed_version("claude", Some(&b)), Some(Version(2, 1, 329)));
    }

    #[test]
    fn unknown_installs_fall_back_to_the_command_hook() {
        let t = tempfile::tempdir().unwrap();
        // Another package's manifest next to the program says nothing about Claude Code.
        package(&t.path().join("x"), "left-pad", "9.9.9");
        executable(&t.path().join("x/claude"));
        let x = std::env::join_paths([t.path().join("x")]).unwrap();
        assert_eq!(installed_version("claude", Some(&x)), None);
        assert_eq!(HookTransport::Auto.resolve("claude", Some(&x)), HookTransport::Command);
        // Not executable, not on the path, no PATH at all.
        std::fs::write(t.path().join("claude"), "").unwrap();
        let here = std::env::join_paths([t.path()]).unwrap();
        assert_eq!(installed_version("claude", Some(&here)), None);
        assert_eq!(installed_version("claude", None), None);
        // An explicit choice is kept whatever is installed.
        assert_eq!(HookTransport::Http.resolve("claude", None), HookTransport::Http);
        assert_eq!(HookTransport::Command.resolve("claude", Some(&x)), HookTransport::Command);
    }
}
