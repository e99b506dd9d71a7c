//! `-R`: reads `-S` output (or any ipvsadm command lines) into commands. As ipvsadm's
//! `config_stream_read()`, words are split on blanks, the word `ipvsadm` is dropped
//! wherever it appears (so `ipvsadm -A ...` lines work), `#` starts a comment and blank
//! lines are skipped. Unlike ipvsadm, the whole input is parsed before anything is applied,
//! so the daemon can apply it as one transaction.

use crate::cmd::Command;
use crate::parse::{parse_with, CliError};
use crate::resolve::Resolver;

/// A `-R` line that did not parse: its 1-based number and ipvsadm's error for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreError {
    pub line: usize,
    pub error: CliError,
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.error.message)
    }
}

impl std::error::Error for RestoreError {}

/// Splits one input line into words as `config_stream_read()` does.
pub fn line_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    for w in line.split([' ', '\t', '\r']) {
        if w.is_empty() {
            continue;
        }
        if w.starts_with('#') {
            break;
        }
        if w != "ipvsadm" {
            words.push(w.to_string());
        }
    }
    words
}

/// Parses a whole `-R` input. `program` stands in for `argv[0]` in messages. A nested `-R`
/// is refused as ipvsadm refuses it (try-help, status 255).
pub fn parse_restore(
    input: &str,
    program: &str,
    resolver: &dyn Resolver,
) -> Result<Vec<Command>, RestoreError> {
    let mut out = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let words = line_words(line);
        if words.is_empty() {
            continue;
        }
        let mut argv = Vec::with_capacity(words.len() + 1);
        argv.push(program.to_string());
        argv.extend(words);
        let cmd =
            parse_with(&argv, resolver).map_err(|error| RestoreError { line: i + 1, error })?;
        if cmd == Command::Restore {
            return Err(RestoreError {
                line: i + 1,
                error: CliError {
                    message: format!(
                        "Try `{program} -h' or '{program} --help' for more information."
                    ),
                    exit_code: 255,
                },
            });
        }
        out.push(cmd);
    }
    Ok(out)
}
