//! A small fluent helper to run a binary and assert on what it did.
//!
//! ```no_run
//! use wpool_tests::cli::Cmd;
//!
//! Cmd::new("target/debug/wpool")
//!     .args(["run", "job.toml"])
//!     .run()
//!     .status(1)
//!     .stderr_contains("timed out");
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A command to run: a program, its arguments, environment, working directory and stdin.
#[derive(Debug)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
    envs: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    /// A command that runs `program` (a path, or a name looked up in `PATH`).
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            dir: None,
            envs: Vec::new(),
            stdin: None,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    /// Runs the program in `dir` (by default, the test's working directory).
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Sets an environment variable (on top of the test's environment).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Writes `data` to the program's stdin, then closes it.
    pub fn stdin(mut self, data: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(data.into());
        self
    }

    /// Runs the program to completion and captures its output.
    ///
    /// Stdin is closed at once unless [`stdin`](Cmd::stdin) gave data; stdout
    /// and stderr are captured, never inherited. Panics if the program cannot
    /// be started.
    pub fn run(self) -> Run {
        let line = self.to_string();
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{line}`: {e}"));
        // Write stdin from another thread so a program that writes a lot of
        // output before reading all its input cannot deadlock with us.
        let writer = match (child.stdin.take(), self.stdin) {
            (Some(mut pipe), Some(data)) => Some(std::thread::spawn(move || {
                // The program may exit without reading everything; that is its business.
                let _ = pipe.write_all(&data);
            })),
            _ => None,
        };
        let output = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for `{line}`: {e}"));
        if let Some(writer) = writer {
            writer.join().expect("stdin writer thread");
        }
        Run {
            status: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            line,
        }
    }
}

/// The command line as a shell would show it, with the directory if one was set.
impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.dir {
            write!(f, "cd {} && ", quote(dir.as_os_str()))?;
        }
        for (key, value) in &self.envs {
            write!(f, "{}={} ", key.to_string_lossy(), quote(value))?;
        }
        write!(f, "{}", quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", quote(arg))?;
        }
        Ok(())
    }
}

/// `s`, in single quotes if it is empty or holds anything but plain characters.
fn quote(s: &OsStr) -> String {
    let s = s.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What a finished command did. Each assertion panics, showing the command
/// line, the exit status, stdout and stderr, and otherwise returns the `Run`
/// so assertions chain.
#[derive(Debug)]
pub struct Run {
    /// The exit code, or `None` if the program was killed by a signal.
    pub status: Option<i32>,
    /// Everything the program wrote to stdout (lossily decoded as UTF-8).
    pub stdout: String,
    /// Everything the program wrote to stderr (lossily decoded as UTF-8).
    pub stderr: String,
    line: String,
}

impl Run {
    /// Asserts that the program exited with `code`.
    pub fn status(self, code: i32) -> Run {
        if self.status != Some(code) {
            self.fail(&format!("expected exit status {code}"));
        }
        self
    }

    /// Asserts that the program exited with 0.
    pub fn success(self) -> Run {
        self.status(0)
    }

    /// Asserts that stdout contains `s`.
    pub fn stdout_contains(self, s: &str) -> Run {
        if !self.stdout.contains(s) {
            self.fail(&format!("expected stdout to contain {s:?}"));
        }
        self
    }

    /// Asserts that stderr contains `s`.
    pub fn stderr_contains(self, s: &str) -> Run {
        if !self.stderr.contains(s) {
            self.fail(&format!("expected stderr to contain {s:?}"));
        }
        self
    }

    /// Asserts that stdout does not contain `s`.
    pub fn stdout_lacks(self, s: &str) -> Run {
        if self.stdout.contains(s) {
            self.fail(&format!("expected stdout not to contain {s:?}"));
        }
        self
    }

    /// Parses every non-empty line of stdout as JSON; panics, showing the
    /// line, if one is not.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        let lines = self
            .stdout
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty());
        lines
            .map(|(n, line)| {
                serde_json::from_str(line).unwrap_or_else(|e| {
                    self.fail(&format!("stdout line {} is not JSON ({e}): {line}", n + 1))
                })
            })
            .collect()
    }

    fn fail(&self, what: &str) -> ! {
        let status = match self.status {
            Some(code) => code.to_string(),
            None => "none (killed by a signal)".to_owned(),
        };
        panic!(
            "{what}\ncommand: {}\nstatus: {status}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.line, self.stdout, self.stderr
        );
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Cmd {
        Cmd::new("sh").args(["-c", script])
    }

    #[test]
    fn captures_status_and_output() {
        let run = sh("echo out; echo err >&2; exit 3").run().status(3);
        run.stdout_contains("out")
            .stderr_contains("err")
            .stdout_lacks("err");
    }

    #[test]
    fn passes_stdin_env_args_and_dir() {
        let dir = std::env::temp_dir();
        let script = r#"cat; printf ' %s %s ' "$GREETING" "$0"; pwd"#;
        let run = sh(script)
            .arg("zero")
            .env("GREETING", "hi")
            .current_dir(&dir)
            .stdin("in")
            .run();
        let run = run.success().stdout_contains("in hi zero ");
        assert!(
            run.stdout
                .trim_end()
                .ends_with(dir.canonicalize().unwrap().to_str().unwrap())
        );
    }

    #[test]
    fn stdin_is_closed_when_not_given() {
        sh("cat").run().success();
    }

    #[test]
    fn json_lines_parses_every_line() {
        let run = sh(r#"echo '{"id": 1}'; echo; echo '[2]'"#).run();
        assert_eq!(
            run.json_lines(),
            [serde_json::json!({"id": 1}), serde_json::json!([2])]
        );
    }

    #[test]
    #[should_panic(expected = "stdout line 2 is not JSON")]
    fn json_lines_panics_on_a_bad_line() {
        sh("echo 1; echo nope").run().json_lines();
    }

    #[test]
    #[should_panic(
        expected = "command: sh -c 'echo \"a b\"; exit 1'\nstatus: 1\n--- stdout ---\na b"
    )]
    fn failures_show_the_command_and_its_output() {
        sh(r#"echo "a b"; exit 1"#).run().success();
    }
}
