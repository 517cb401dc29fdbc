//! The implementation under test, as a long-running process that speaks HUNT.md's protocol:
//! one JSON request line on its standard input, one JSON reply line on its standard output,
//! strictly in turn. Its standard error goes to a log file, whose last line explains a crash.
//!
//! Anything but a well-formed reply with the request's id within the time limit — the process
//! exits, prints garbage, answers another id, or says nothing — is a [`Reply::Crash`]; the
//! process is then killed (with everything it started) and started again on the next request.

use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// What the adapter answered to one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `{"id": …, "ok": true}`: the tensors are in the case folder.
    Ok,
    /// `{"id": …, "ok": false, "error": …}`: the implementation refused or raised.
    Refused(String),
    /// No usable reply: why (exit, garbage, wrong id, timeout).
    Crash(String),
}

/// A running adapter.
struct Running {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

/// The adapter command and its process, started on demand.
pub struct Adapter {
    command: String,
    timeout: Duration,
    stderr_log: PathBuf,
    running: Option<Running>,
    next_id: u64,
    /// Requests answered since the process was last started (for order-dependence).
    pub since_start: usize,
    /// How many times the process was started.
    pub starts: usize,
}

/// The longest reply line read; anything longer is garbage.
const MAX_LINE: u64 = 1 << 16;

impl Adapter {
    /// An adapter running `command` through `sh -c`, its standard error appended to
    /// `stderr_log`. Nothing starts until the first request.
    pub fn new(command: &str, timeout: Duration, stderr_log: &Path) -> Adapter {
        Adapter {
            command: command.to_string(),
            timeout,
            stderr_log: stderr_log.to_path_buf(),
            running: None,
            next_id: 1,
            since_start: 0,
            starts: 0,
        }
    }

    fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr_log)
            .map_err(|e| Error::file(self.stderr_log.display(), format!("cannot open: {e}")))?;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        #[cfg(unix)]
        {
            // Its own process group, so that a timeout kills what the command started too.
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd.spawn().map_err(|e| {
            Error::field(
                "command",
                &self.command,
                format!("cannot start `sh -c {}`: {e}", self.command),
            )
        })?;
        let stdin = child.stdin.take().ok_or_else(|| {
            Error::field("command", &self.command, "its stdin could not be opened")
        })?;
        let stdout = child.stdout.take().ok_or_else(|| {
            Error::field("command", &self.command, "its stdout could not be opened")
        })?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match Read::by_ref(&mut reader)
                    .take(MAX_LINE)
                    .read_line(&mut line)
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        self.running = Some(Running {
            child,
            stdin,
            lines: rx,
        });
        self.since_start = 0;
        self.starts += 1;
        Ok(())
    }

    /// Kill the process and everything it started; the next request starts it again.
    pub fn kill(&mut self) {
        if let Some(mut r) = self.running.take() {
            #[cfg(unix)]
            {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", r.child.id())])
                    .stderr(Stdio::null())
                    .status();
            }
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }

    /// Start afresh: the next request goes to a new process.
    pub fn restart(&mut self) {
        self.kill();
    }

    /// The last non-empty line the adapter wrote to its standard error.
    pub fn last_stderr_line(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.stderr_log).ok()?;
        text.lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .map(|l| l.chars().take(200).collect())
    }

    fn crash(&mut self, why: String) -> Reply {
        let detail = self
            .last_stderr_line()
            .map(|l| format!(" (its stderr: {l})"))
            .unwrap_or_default();
        self.kill();
        Reply::Crash(format!("{why}{detail}"))
    }

    /// Send one request for the case folder `dir` and wait for its reply.
    ///
    /// # Errors
    /// Only when the process cannot be started at all (no `sh`, no log file).
    pub fn request(&mut self, dir: &Path, want: &[&str]) -> Result<Reply> {
        if self.running.is_none() {
            self.start()?;
        }
        let id = self.next_id;
        self.next_id += 1;
        let line = json!({"id": id, "dir": dir.display().to_string(), "want": want}).to_string();
        let Some(r) = self.running.as_mut() else {
            return Ok(Reply::Crash("not running".into()));
        };
        if writeln!(r.stdin, "{line}")
            .and_then(|_| r.stdin.flush())
            .is_err()
        {
            return Ok(self.crash("the adapter exited before reading the request".into()));
        }
        let reply = match r.lines.recv_timeout(self.timeout) {
            Ok(text) => text,
            Err(RecvTimeoutError::Timeout) => {
                return Ok(self.crash(format!(
                    "no reply within {:.1} s",
                    self.timeout.as_secs_f64()
                )))
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = r
                    .child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|_| "unknown status".into());
                return Ok(self.crash(format!("the adapter exited ({status})")));
            }
        };
        self.since_start += 1;
        let shown: String = reply.trim().chars().take(80).collect();
        let value: Value = match serde_json::from_str(reply.trim()) {
            Ok(v) => v,
            Err(_) => return Ok(self.crash(format!("reply is not JSON: `{shown}`"))),
        };
        if value.get("id").and_then(Value::as_u64) != Some(id) {
            return Ok(self.crash(format!("reply has the wrong id (sent {id}): `{shown}`")));
        }
        match value.get("ok").and_then(Value::as_bool) {
            Some(true) => Ok(Reply::Ok),
            Some(false) => Ok(Reply::Refused(
                value
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("(no message)")
                    .chars()
                    .take(200)
                    .collect(),
            )),
            None => Ok(self.crash(format!("reply has no boolean `ok`: `{shown}`"))),
        }
    }

    /// Ask the adapter to quit, give it a moment, then make sure it is gone.
    pub fn quit(&mut self) {
        if let Some(r) = self.running.as_mut() {
            let id = self.next_id;
            let _ = writeln!(r.stdin, "{}", json!({"id": id, "quit": true}));
            let _ = r.stdin.flush();
            for _ in 0..20 {
                if matches!(r.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        self.kill();
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        self.kill();
    }
}
