//! Run directories: one fresh folder per run, never reused or overwritten.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Creates `<out>/<name>` and its `samples/` folder; with no name, a unique default one.
///
/// An explicit name that already exists is an error. The default name gets `-2`, `-3`, ...
/// appended when two runs start in the same second, so no earlier run is ever touched.
pub fn create(out: &Path, name: Option<&str>, default_name: &str) -> Result<PathBuf> {
    fs::create_dir_all(out).with_context(|| format!("creating output folder {}", out.display()))?;
    let dir = match name {
        Some(name) => {
            let dir = out.join(name);
            match fs::create_dir(&dir) {
                Ok(()) => dir,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => bail!(
                    "run directory {} already exists; pick another --name (earlier runs are never overwritten)",
                    dir.display()
                ),
                Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
            }
        }
        None => create_unique(out, default_name)?,
    };
    let samples = dir.join("samples");
    fs::create_dir(&samples).with_context(|| format!("creating {}", samples.display()))?;
    Ok(dir)
}

fn create_unique(out: &Path, base: &str) -> Result<PathBuf> {
    for k in 1..10_000 {
        let dir = if k == 1 {
            out.join(base)
        } else {
            out.join(format!("{base}-{k}"))
        };
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
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
        let dir = create(tmp.path(), Some("a"), "x").unwrap();
        fs::write(dir.join("keep.txt"), "earlier run").unwrap();
        let err = create(tmp.path(), Some("a"), "x").unwrap_err();
        assert!(err.to_string().contains("already exists"));
        assert_eq!(
            fs::read_to_string(dir.join("keep.txt")).unwrap(),
            "earlier run"
        );
    }

    #[test]
    fn default_names_get_a_suffix() {
        let tmp = tempfile::tempdir().unwrap();
        let a = create(tmp.path(), None, "run").unwrap();
        let b = create(tmp.path(), None, "run").unwrap();
        assert_ne!(a, b);
        assert!(b.ends_with("run-2"));
        assert!(b.join("samples").is_dir());
    }
}
