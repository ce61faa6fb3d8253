//! Per-run overrides a user types on the command line: `--env [CONTAINER:]NAME=VALUE` and a
//! one-off task's `--command "CMD ARGS"`. Parsed here once, so every command that takes them
//! agrees on the syntax and the errors.

use crate::error::Error;

/// One `--env` value: a variable for one container (`CONTAINER:NAME=VALUE`) or for the
/// command's chosen container (`NAME=VALUE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvOverride {
    pub container: Option<String>,
    pub name: String,
    pub value: String,
}

/// Parses `[CONTAINER:]NAME=VALUE`. The value may hold `=` and `:`; the name is what an
/// environment variable may be called (letters, digits, `_`, not starting with a digit).
pub fn parse_env(raw: &str) -> Result<EnvOverride, Error> {
    let bad = |why: &str| {
        Error::usage(
            format!("--env {raw:?}: {why}"),
            "write --env NAME=VALUE, or --env CONTAINER:NAME=VALUE for another container",
        )
    };
    let (left, value) = raw.split_once('=').ok_or_else(|| bad("no `=`"))?;
    let (container, name) = match left.split_once(':') {
        Some((c, n)) if !c.is_empty() => (Some(c.to_string()), n),
        Some(_) => return Err(bad("the container name before `:` is empty")),
        None => (None, left),
    };
    let valid = name.chars().next().is_some_and(|c| !c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(bad(&format!(
            "{name:?} is not a variable name (letters, digits and _, not starting with a digit)"
        )));
    }
    Ok(EnvOverride {
        container,
        name: name.to_string(),
        value: value.to_string(),
    })
}

/// Splits a command line into the words of ECS's `command` override the way a shell would
/// for plain words and quotes ('…' literal, "…" with \" and \\), without expansions. An empty
/// command, or one with an unclosed quote, is refused.
pub fn parse_command(raw: &str, flag: &str) -> Result<Vec<String>, Error> {
    let hint = &format!("pass the command to run, e.g. {flag} \"./migrate up\"");
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(unclosed(raw, hint)),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(unclosed(raw, hint)),
                        },
                        Some(c) => w.push(c),
                        None => return Err(unclosed(raw, hint)),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    if words.is_empty() {
        return Err(Error::usage("the command to run is empty", hint));
    }
    Ok(words)
}

fn unclosed(raw: &str, hint: &str) -> Error {
    Error::usage(format!("the command {raw:?} has an unclosed quote"), hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_name_a_variable_and_maybe_a_container() {
        let env = |c: Option<&str>, n: &str, v: &str| EnvOverride {
            container: c.map(String::from),
            name: n.into(),
            value: v.into(),
        };
        let table = [
            ("DB=postgres", Some(env(None, "DB", "postgres"))),
            ("URL=a=b:c", Some(env(None, "URL", "a=b:c"))),
            ("app:LEVEL=debug", Some(env(Some("app"), "LEVEL", "debug"))),
            ("EMPTY=", Some(env(None, "EMPTY", ""))),
            ("NOVALUE", None),
            ("=x", None),
            (":A=1", None),
            ("1A=1", None),
            ("A-B=1", None),
        ];
        for (raw, want) in table {
            assert_eq!(parse_env(raw).ok(), want, "{raw}");
        }
    }

    #[test]
    fn a_command_splits_into_words_as_a_shell_would_without_expansions() {
        let w = |xs: &[&str]| Some(xs.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let table = [
            ("./migrate up", w(&["./migrate", "up"])),
            ("  a   b  ", w(&["a", "b"])),
            ("sh -c 'exit 3'", w(&["sh", "-c", "exit 3"])),
            (r#"echo "a \"b\" \c""#, w(&["echo", r#"a "b" \c"#])),
            ("x''", w(&["x"])),
            ("''", w(&[""])),
            ("", None),
            ("   ", None),
            ("echo 'open", None),
        ];
        for (raw, want) in table {
            assert_eq!(parse_command(raw, "--command").ok(), want, "{raw:?}");
        }
    }
}
