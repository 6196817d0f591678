//! Creating run directories: one fresh folder per run, never reused or overwritten, locked by
//! its trainer from the moment it appears.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::lock::RunLock;

/// Creates `<out>/<name>` with its `samples` sub-folder and its lock taken; with no name, a
/// unique default one.
///
/// The folder is assembled under a hidden staging name and renamed into place, so no other
/// process ever sees it without its lock. An explicit name that already exists is an error.
/// The default name gets `-2`, `-3`, ... appended when two runs start in the same second, so
/// no earlier run is ever touched.
pub fn create(
    out: &Path,
    name: Option<&str>,
    default_name: &str,
    samples: &str,
) -> Result<(PathBuf, RunLock)> {
    fs::create_dir_all(out).with_context(|| format!("creating output folder {}", out.display()))?;
    let base = name.unwrap_or(default_name);
    let staging = out.join(format!(".{base}.{}.new", std::process::id()));
    if staging.exists() {
        // Left by a crash of an earlier process with our pid: nobody else names it.
        fs::remove_dir_all(&staging).with_context(|| format!("removing {}", staging.display()))?;
    }
    fs::create_dir(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let result = stage(&staging, samples).and_then(|lock| place(&staging, out, name, base, lock));
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    result
}

/// Fills the staging folder: the samples folder and the lock.
fn stage(staging: &Path, samples: &str) -> Result<RunLock> {
    let dir = staging.join(samples);
    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(RunLock::acquire(staging)?)
}

/// Renames the staging folder to its final name.
fn place(
    staging: &Path,
    out: &Path,
    name: Option<&str>,
    base: &str,
    mut lock: RunLock,
) -> Result<(PathBuf, RunLock)> {
    let taken = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::AlreadyExists | ErrorKind::DirectoryNotEmpty
        )
    };
    let candidates: Box<dyn Iterator<Item = PathBuf>> = match name {
        Some(n) => Box::new(std::iter::once(out.join(n))),
        None => Box::new((1..10_000).map(|k| match k {
            1 => out.join(base),
            k => out.join(format!("{base}-{k}")),
        })),
    };
    for dir in candidates {
        // rename() would replace an empty directory: an existing one is never reused.
        let result = match dir.exists() {
            true => Err(std::io::Error::from(ErrorKind::AlreadyExists)),
            false => fs::rename(staging, &dir),
        };
        match result {
            Ok(()) => {
                lock.moved_to(&dir);
                return Ok((dir, lock));
            }
            Err(e) if taken(&e) && name.is_some() => bail!(
                "run directory {} already exists; pick another --name (earlier runs are never overwritten)",
                dir.display()
            ),
            Err(e) if taken(&e) => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    bail!(
        "could not find a free run directory name for {base} in {}",
        out.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_name_is_never_reused() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, lock) = create(tmp.path(), Some("a"), "x", "samples").unwrap();
        drop(lock);
        fs::write(dir.join("keep.txt"), "earlier run").unwrap();
        let err = create(tmp.path(), Some("a"), "x", "samples").unwrap_err();
        assert!(err.to_string().contains("already exists"));
        assert_eq!(
            fs::read_to_string(dir.join("keep.txt")).unwrap(),
            "earlier run"
        );
        // Nothing left behind by the refused attempt.
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn default_names_get_a_suffix_and_come_locked() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, _la) = create(tmp.path(), None, "run", "samples").unwrap();
        let (b, lb) = create(tmp.path(), None, "run", "samples").unwrap();
        assert_ne!(a, b);
        assert!(b.ends_with("run-2"));
        assert!(b.join("samples").is_dir());
        assert_eq!(lb.path(), b.join(super::super::lock::FILE));
        assert!(matches!(
            super::super::lock::state(&b).unwrap(),
            super::super::lock::State::Held(_)
        ));
    }
}
