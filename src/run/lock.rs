//! One writer per run directory: the training process holds `train.lock` for the whole run.
//!
//! Two mechanisms, because either alone fails somewhere:
//! - an advisory lock (`flock`) on the open lock file, which the kernel releases when the
//!   process dies, however it dies: on one machine this is exact, also after `kill -9`;
//! - the lock file itself, created exclusively and naming the host, pid and start time of its
//!   holder, which is what other machines see on shared network storage, where advisory locks
//!   may not be honoured.
//!
//! The rule for a lock file left behind: on the holder's own host, a lock file whose advisory
//! lock is free was left by a process that died, and is taken over. From another host nothing
//! can tell a dead holder from a live one: the lock is respected, and the message says which
//! file to delete once that process is known to be gone.

use std::fmt;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The lock file's name inside a run directory.
pub const FILE: &str = "train.lock";

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Host name of the holding process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lock (RFC 3339).
    pub started: String,
}

impl Holder {
    /// This process.
    fn me() -> Holder {
        Holder {
            host: host_name(),
            pid: std::process::id(),
            started: chrono::Local::now().to_rfc3339(),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "process {} on {} (since {})",
            self.pid, self.host, self.started
        )
    }
}

/// This machine's name, as the lock files record it.
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// The state of a run directory's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// No lock file.
    Free,
    /// Held by a live process (or one on another host, which cannot be checked).
    Held(Holder),
    /// A lock file whose holder on this host has died: the next taker takes it over.
    Stale(Holder),
}

/// Why a lock could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it.
    Held {
        /// The run directory.
        dir: PathBuf,
        /// Who holds it.
        holder: Holder,
    },
    /// The lock file could not be created or read.
    Io(anyhow::Error),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held { dir, holder } => {
                write!(f, "{} is being trained by {holder}", dir.display())?;
                if holder.host != host_name() {
                    write!(
                        f,
                        "; if that process is gone, delete {} and try again",
                        dir.join(FILE).display()
                    )?;
                }
                Ok(())
            }
            LockError::Io(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for LockError {}

/// A held lock on a run directory, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of `dir`, or says who holds it. A stale lock (its holder died on this
    /// host) is taken over.
    pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
        let path = dir.join(FILE);
        // Twice at most: a stale file is removed once, then created afresh.
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return RunLock::hold(file, path),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => match inspect(&path)? {
                    (State::Stale(_), Some(file)) => {
                        // We hold the advisory lock of the stale file: remove it under that
                        // lock, so two takers cannot both take it over.
                        fs::remove_file(&path)
                            .with_context(|| format!("removing the stale {}", path.display()))
                            .map_err(LockError::Io)?;
                        drop(file);
                    }
                    (State::Held(holder), _) | (State::Stale(holder), None) => {
                        return Err(LockError::Held {
                            dir: dir.to_path_buf(),
                            holder,
                        });
                    }
                    // Released between our create and our look: try again.
                    (State::Free, _) => {}
                },
                Err(e) => {
                    return Err(LockError::Io(
                        anyhow::Error::new(e).context(format!("creating {}", path.display())),
                    ));
                }
            }
        }
        Err(LockError::Io(anyhow::anyhow!(
            "{}: could not take the lock (it changed hands while trying)",
            path.display()
        )))
    }

    /// Locks the freshly created `file` and writes this process into it.
    fn hold(mut file: File, path: PathBuf) -> Result<RunLock, LockError> {
        let io = |e: std::io::Error| {
            LockError::Io(anyhow::Error::new(e).context(format!("writing {}", path.display())))
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                // Someone took over our new file between creation and lock (it looked stale).
                let holder = read_holder(&path).unwrap_or_else(|_| Holder::me());
                return Err(LockError::Held {
                    dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
                    holder,
                });
            }
            // A file system without advisory locks: the lock file alone protects the run.
            Err(TryLockError::Error(_)) => {}
        }
        let text = serde_json::to_string(&Holder::me()).expect("holder serialises") + "\n";
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(RunLock { file, path })
    }

    /// The lock file (it moves with its directory when that is renamed).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Follows the run directory to `dir` after it was renamed there (the open file and its
    /// advisory lock move with it).
    pub fn moved_to(&mut self, dir: &Path) {
        self.path = dir.join(FILE);
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Remove first, then unlock: a taker that finds the file locked treats it as held.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// The state of the lock of `dir`.
pub fn state(dir: &Path) -> Result<State> {
    inspect(&dir.join(FILE))
        .map(|(s, _)| s)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The state of lock file `path`; for a stale one, also the file with its advisory lock held.
fn inspect(path: &Path) -> Result<(State, Option<File>), LockError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok((State::Free, None)),
        Err(e) => {
            return Err(LockError::Io(
                anyhow::Error::new(e).context(format!("reading {}", path.display())),
            ));
        }
    };
    // A holder that has created the file but not yet written to it reads as unknown.
    let holder = read_holder(path).unwrap_or(Holder {
        host: String::from("?"),
        pid: 0,
        started: String::from("?"),
    });
    let same_host = holder.host == host_name() || holder.host == "?";
    match file.try_lock() {
        Err(TryLockError::WouldBlock) => Ok((State::Held(holder), None)),
        // The holder is on another machine (advisory locks may not reach across), or this file
        // system has none: the lock file stands unless its process is known dead.
        _ if !same_host => Ok((State::Held(holder), None)),
        Err(TryLockError::Error(_)) if holder.pid != 0 && process_alive(holder.pid) => {
            Ok((State::Held(holder), None))
        }
        // Created but not yet written by a live taker: respect it.
        Ok(()) if holder.pid == 0 => {
            let _ = file.unlock();
            Ok((State::Held(holder), None))
        }
        Ok(()) => Ok((State::Stale(holder), Some(file))),
        Err(TryLockError::Error(_)) => Ok((State::Stale(holder), None)),
    }
}

fn read_holder(path: &Path) -> Result<Holder> {
    let text = fs::read_to_string(path)?;
    Ok(serde_json::from_str(text.trim())?)
}

/// Whether process `pid` exists on this host.
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_is_refused_and_the_holder_named() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(tmp.path()).unwrap();
        assert!(
            matches!(state(tmp.path()).unwrap(), State::Held(h) if h.pid == std::process::id())
        );
        // Advisory locks are per open file: a second open in the same process conflicts too.
        let err = RunLock::acquire(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("is being trained by process"), "{err}");
        drop(lock);
        assert_eq!(state(tmp.path()).unwrap(), State::Free);
        RunLock::acquire(tmp.path()).unwrap();
    }

    #[test]
    fn a_lock_left_by_a_dead_process_on_this_host_is_taken_over() {
        let tmp = tempfile::tempdir().unwrap();
        let dead = Holder {
            host: host_name(),
            pid: u32::MAX - 1,
            started: "2026-01-01T00:00:00+00:00".into(),
        };
        fs::write(tmp.path().join(FILE), serde_json::to_string(&dead).unwrap()).unwrap();
        assert_eq!(state(tmp.path()).unwrap(), State::Stale(dead));
        let lock = RunLock::acquire(tmp.path()).unwrap();
        let now = read_holder(lock.path()).unwrap();
        assert_eq!(now.pid, std::process::id());
    }

    #[test]
    fn a_lock_of_another_host_is_respected_with_a_way_out() {
        let tmp = tempfile::tempdir().unwrap();
        let remote = Holder {
            host: "elsewhere".into(),
            pid: 1234,
            started: "2026-01-01T00:00:00+00:00".into(),
        };
        fs::write(
            tmp.path().join(FILE),
            serde_json::to_string(&remote).unwrap(),
        )
        .unwrap();
        assert_eq!(state(tmp.path()).unwrap(), State::Held(remote));
        let err = RunLock::acquire(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("on elsewhere"), "{err}");
        assert!(err.contains("delete"), "{err}");
        assert!(tmp.path().join(FILE).exists(), "the lock file must stay");
    }
}
