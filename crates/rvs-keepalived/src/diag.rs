//! Diagnostics: every message names the file and line it came from, as keepalived's
//! `(FILE: Line N) ...` messages do.

use std::fmt;
use std::sync::Arc;

/// Where a token came from. The file name is shared by every token of that file.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pos {
    pub file: Arc<str>,
    /// 1-based line number in `file`.
    pub line: u32,
}

impl Pos {
    pub fn new(file: &str, line: u32) -> Pos {
        Pos {
            file: Arc::from(file),
            line,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The configuration still loads: an unsupported or deprecated keyword, an unclosed
    /// block at end of file, a value keepalived would also ignore.
    Warning,
    /// The configuration is refused as a whole; nothing of it is applied.
    Error,
}

/// One message about the configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Diag {
    pub file: Arc<str>,
    pub line: u32,
    /// The keyword the message is about (empty when it is about no keyword, e.g. a
    /// stray brace found by the lexer).
    pub keyword: String,
    pub message: String,
    pub severity: Severity,
}

impl Diag {
    pub fn warning(pos: &Pos, keyword: &str, message: impl Into<String>) -> Diag {
        Diag::new(pos, keyword, message, Severity::Warning)
    }

    pub fn error(pos: &Pos, keyword: &str, message: impl Into<String>) -> Diag {
        Diag::new(pos, keyword, message, Severity::Error)
    }

    fn new(pos: &Pos, keyword: &str, message: impl Into<String>, severity: Severity) -> Diag {
        Diag {
            file: pos.file.clone(),
            line: pos.line,
            keyword: keyword.to_string(),
            message: message.into(),
            severity,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// `FILE:LINE: warning: keyword 'KW': MESSAGE`, the shape compilers and `keepalived -t`
/// users grep for.
impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}:{}: {sev}: ", self.file, self.line)?;
        if !self.keyword.is_empty() {
            write!(f, "'{}': ", self.keyword)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

/// A refused configuration: the first error, with every warning and error found up to
/// the point where parsing stopped (so `--config-test` can print them all).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{first}")]
pub struct ConfigError {
    pub first: Diag,
    pub diags: Vec<Diag>,
}

impl ConfigError {
    pub fn from_diags(diags: Vec<Diag>) -> Option<ConfigError> {
        let first = diags.iter().find(|d| d.is_error())?.clone();
        Some(ConfigError { first, diags })
    }
}
