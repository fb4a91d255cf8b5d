//! Finding the `claude` binary and checking its version.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The oldest CLI whose stream-json and control protocol this crate speaks.
pub const MIN_VERSION: (u32, u32, u32) = (2, 0, 0);

/// A located, version-checked CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaudeCli {
    pub path: PathBuf,
    /// As `claude --version` prints it, e.g. `2.1.330`.
    pub version: String,
}

fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let v = s.split_whitespace().next()?;
    let mut it = v.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
    });
    Some((it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?))
}

/// The places looked at, in order: `explicit`, `$CCSM_CLAUDE_PATH`, `claude` on
/// `PATH`, then the usual install places.
pub fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = explicit {
        out.push(p.to_path_buf());
        // An explicit path is the only candidate: falling back would hide a typo.
        return out;
    }
    if let Some(p) = std::env::var_os("CCSM_CLAUDE_PATH") {
        out.push(PathBuf::from(p));
        return out;
    }
    if let Ok(p) = which::which("claude") {
        out.push(p);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if let Some(prefix) = std::env::var_os("NPM_CONFIG_PREFIX") {
        out.push(PathBuf::from(prefix).join("bin/claude"));
    }
    if let Some(h) = &home {
        out.push(h.join(".npm-global/bin/claude"));
        out.push(h.join(".local/bin/claude"));
        out.push(h.join(".claude/local/claude"));
    }
    out.push(PathBuf::from("/usr/local/bin/claude"));
    out.push(PathBuf::from("/usr/bin/claude"));
    out.dedup();
    out
}

/// Finds the CLI and checks `claude --version` against [`MIN_VERSION`].
pub fn find_cli(explicit: Option<&Path>) -> Result<ClaudeCli> {
    let searched = candidates(explicit);
    let Some(path) = searched.iter().find(|p| p.is_file()).cloned() else {
        return Err(Error::CliNotFound { searched });
    };
    check_version(&path)
}

/// Runs `path --version` and checks it.
pub fn check_version(path: &Path) -> Result<ClaudeCli> {
    let out = std::process::Command::new(path)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|source| Error::Spawn {
            path: path.to_path_buf(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(v) = parse_version(&text) else {
        return Err(Error::Exited {
            code: out.status.code(),
            signal: None,
            stderr_tail: format!(
                "`{} --version` printed {:?}, not a version; stderr: {}",
                path.display(),
                text.trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    };
    let version = format!("{}.{}.{}", v.0, v.1, v.2);
    if v < MIN_VERSION {
        return Err(Error::CliTooOld {
            path: path.to_path_buf(),
            found: version,
            minimum: format!("{}.{}.{}", MIN_VERSION.0, MIN_VERSION.1, MIN_VERSION.2),
        });
    }
    Ok(ClaudeCli {
        path: path.to_path_buf(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("2.1.330 (Claude Code)"), Some((2, 1, 330)));
        assert_eq!(parse_version("1.0.3-beta"), Some((1, 0, 3)));
        assert_eq!(parse_version("native binary not installed"), None);
    }

    #[test]
    fn a_missing_explicit_path_says_where_it_looked() {
        let err = find_cli(Some(Path::new("/nonexistent/claude"))).unwrap_err();
        let Error::CliNotFound { searched } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(searched, &[PathBuf::from("/nonexistent/claude")]);
        assert!(err.to_string().contains("/nonexistent/claude"));
    }
}
