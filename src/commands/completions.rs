//! `ecs-roll completions SHELL` and `ecs-roll man`: generated from the clap definition, so
//! they never drift from the command line. Neither reads settings nor talks to AWS.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell as Target;

use crate::cli::{Cli, Shell};
use crate::error::Error;

/// Writes the completion script for `shell` to stdout.
pub fn completions(shell: Shell) -> Result<i32, Error> {
    write_stdout(&script(shell))
}

/// The completion script for `shell`.
fn script(shell: Shell) -> Vec<u8> {
    let target = match shell {
        Shell::Bash => Target::Bash,
        Shell::Zsh => Target::Zsh,
        Shell::Fish => Target::Fish,
        Shell::Powershell => Target::PowerShell,
        Shell::Elvish => Target::Elvish,
    };
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(target, &mut cmd, "ecs-roll", &mut out);
    out
}

/// Writes the man page to stdout, or one page per command into `dir`.
pub fn man(dir: Option<&Path>) -> Result<i32, Error> {
    let cmd = Cli::command();
    let Some(dir) = dir else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut out)
            .map_err(|e| write_error(&e))?;
        return write_stdout(&out);
    };
    std::fs::create_dir_all(dir).map_err(|e| cannot_write(dir, &e))?;
    clap_mangen::generate_to(cmd, dir).map_err(|e| cannot_write(dir, &e))?;
    Ok(0)
}

fn write_stdout(bytes: &[u8]) -> Result<i32, Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(0),
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(write_error(&e)),
    }
}

fn write_error(e: &std::io::Error) -> Error {
    Error::usage(
        format!("cannot write to standard output: {e}"),
        "redirect the output to a file, e.g. `ecs-roll man > ecs-roll.1`",
    )
}

fn cannot_write(dir: &Path, e: &std::io::Error) -> Error {
    Error::usage(
        format!("cannot write the man pages into {}: {e}", dir.display()),
        "pass --dir a directory you can write to",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_shell_gets_a_script_that_knows_every_command_and_bash_parses_it() {
        for shell in Shell::value_variants() {
            let text = String::from_utf8(script(*shell)).unwrap();
            for word in [
                "deploy",
                "rollback",
                "status",
                "unlock",
                "completions",
                "image",
            ] {
                assert!(text.contains(word), "{shell:?} lacks {word}");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ecs-roll.bash");
        std::fs::write(&path, script(Shell::Bash)).unwrap();
        let checked = std::process::Command::new("bash")
            .arg("-n")
            .arg(&path)
            .status()
            .expect("bash");
        assert!(checked.success(), "bash -n rejects the script");
    }

    #[test]
    fn the_man_pages_cover_every_command() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(man(Some(dir.path())).unwrap(), 0);
        for page in [
            "ecs-roll.1",
            "ecs-roll-deploy.1",
            "ecs-roll-rollback.1",
            "ecs-roll-status.1",
        ] {
            let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
            assert!(text.contains(".TH"), "{page} is a man page");
        }
        let main = std::fs::read_to_string(dir.path().join("ecs-roll.1")).unwrap();
        assert!(
            main.contains("Exit codes"),
            "the main page lists the exit codes"
        );
    }
}
