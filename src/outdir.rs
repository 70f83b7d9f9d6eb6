//! Output folders that are never mixed or half-written.
//!
//! * [`replace_dir`] swaps a fully written staging folder into place (atomically on Linux), so a
//!   reader or a killed run sees either the previous complete output or the new one.
//! * [`OutputLock`] keeps two live runs out of one output folder: `<dir>/.lock` holds the
//!   owner's pid, is created exclusively, is taken over when its pid is dead, and is removed when
//!   the guard drops (also on error).
//! * [`clean_stale_siblings`] removes the staging folders that killed runs left beside a target.
//! * [`write_atomic`] writes one file so that no reader sees it half-written: the crate's one
//!   atomic file writer (search cache entries, every report file, `runs.csv`).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file inside a locked output folder.
pub const LOCK_FILE: &str = ".lock";

/// Whether process `pid` is running. Our own pid counts as dead: a lock or staging folder that
/// names it was left by an earlier process that had the same pid (we did not make it).
pub fn pid_alive(pid: u32) -> bool {
    if pid == std::process::id() || pid == 0 {
        return false;
    }
    #[cfg(unix)]
    {
        let Ok(p) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists and may be signalled.
        let r = unsafe { libc::kill(p, 0) };
        // EPERM: it exists but belongs to another user.
        r == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        // No cheap portable check: assume it runs (the user can remove the lock by hand).
        true
    }
}

/// Why an output folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// A live process holds the lock.
    #[error(
        "output folder {dir} is in use by another run (pid {pid}, lock file {lock}); wait for it \
         to finish or choose another --output (remove the lock file only if pid {pid} is not a \
         vidur-search run)"
    )]
    Held {
        /// The output folder.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// The owner.
        pid: u32,
    },
    /// The lock file holds no pid (it was just created, or it is not ours).
    #[error(
        "output folder {dir} is locked by {lock}, which holds no process id; remove it if no \
         run is using the folder"
    )]
    Unreadable {
        /// The output folder.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// Creating the folder or the lock file failed.
    #[error("cannot lock output folder: {path}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// An exclusive claim on an output folder; the lock file is removed on drop.
#[derive(Debug)]
pub struct OutputLock {
    path: PathBuf,
}

impl OutputLock {
    /// Creates `dir` if missing and takes `dir/.lock`, taking over a lock whose pid is dead.
    pub fn acquire(dir: &Path) -> Result<OutputLock, LockError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| LockError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock = dir.join(LOCK_FILE);
        let me = std::process::id();
        // A few rounds: each lost race (another run took the lock first) re-reads the owner.
        for _ in 0..8 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&lock)
            {
                Ok(mut f) => {
                    f.write_all(format!("{me}\n").as_bytes())
                        .and_then(|()| f.sync_all())
                        .map_err(io_err(&lock))?;
                    return Ok(OutputLock { path: lock });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_err(&lock)(e)),
            }
            let Some(pid) = read_pid(&lock)? else {
                continue; // Removed meanwhile: try to create it again.
            };
            if pid_alive(pid) {
                return Err(LockError::Held {
                    dir: dir.to_path_buf(),
                    lock,
                    pid,
                });
            }
            // Stale: move it aside, and delete it only if it is still the dead owner's (another
            // run may have taken it over in between; then put that one back).
            let aside = dir.join(format!("{LOCK_FILE}.stale-{me}"));
            match fs::rename(&lock, &aside) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&lock)(e)),
            }
            if read_pid(&aside)? == Some(pid) {
                let _ = fs::remove_file(&aside);
            } else {
                let _ = fs::rename(&aside, &lock);
            }
        }
        match read_pid(&lock)? {
            Some(pid) => Err(LockError::Held {
                dir: dir.to_path_buf(),
                lock,
                pid,
            }),
            None => Err(LockError::Unreadable {
                dir: dir.to_path_buf(),
                lock,
            }),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OutputLock {
    fn drop(&mut self) {
        // Only our own lock: never remove one a later run took over.
        if read_pid(&self.path).ok().flatten() == Some(std::process::id()) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The pid in a lock file: `Ok(None)` when the file is gone. A file that exists but holds no
/// pid yet (its creator is between create and write) is re-read briefly before giving up.
fn read_pid(lock: &Path) -> Result<Option<u32>, LockError> {
    for attempt in 0..20 {
        match fs::read_to_string(lock) {
            Ok(s) => {
                if let Ok(pid) = s.trim().parse::<u32>() {
                    return Ok(Some(pid));
                }
                if attempt == 19 {
                    return Err(LockError::Unreadable {
                        dir: lock.parent().unwrap_or(Path::new(".")).to_path_buf(),
                        lock: lock.to_path_buf(),
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(25));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(LockError::Io {
                    path: lock.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(None)
}

/// `<parent>/.<name>.<kind>-<pid>`: a staging (`tmp`) or retired (`old`) sibling of `target`.
pub fn sibling(target: &Path, kind: &str, pid: u32) -> PathBuf {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    target.with_file_name(format!(".{name}.{kind}-{pid}"))
}

/// Removes the `tmp`/`old` siblings of `target` (see [`sibling`]) whose process is dead:
/// leftovers of killed runs. Live runs' folders are left alone. Best effort.
pub fn clean_stale_siblings(target: &Path) {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(rest) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else {
            continue;
        };
        let pid = ["tmp-", "old-"]
            .iter()
            .find_map(|k| rest.strip_prefix(k))
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !pid_alive(p)) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Write `bytes` to `path` so that no reader ever sees a partial file: temporary file in the
/// same folder (`<file>.tmp<pid>`), fsync, rename, then fsync the folder so the rename
/// survives a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Best effort: a leftover temporary file is harmless but untidy.
        let _ = fs::remove_file(&tmp);
        return written;
    }
    // Folders cannot be opened for sync on every platform: not an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Puts the complete folder `staging` at `target` (same parent) and deletes what was there.
///
/// Linux swaps the two atomically (`renameat2(RENAME_EXCHANGE)`), so `target` always holds a
/// complete output. Elsewhere (or on a file system without exchange) the old folder is first
/// renamed aside, then `staging` renamed in: a kill between the two renames leaves both
/// complete folders as hidden siblings and no `target`.
pub fn replace_dir(staging: &Path, target: &Path) -> io::Result<()> {
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return fs::rename(staging, target),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    if exchange(staging, target).is_ok() {
        // `staging` now holds the previous output.
        return fs::remove_dir_all(staging);
    }
    let old = sibling(target, "old", std::process::id());
    if fs::symlink_metadata(&old).is_ok() {
        fs::remove_dir_all(&old)?;
    }
    fs::rename(target, &old)?;
    if let Err(e) = fs::rename(staging, target) {
        // Put the previous output back.
        let _ = fs::rename(&old, target);
        return Err(e);
    }
    fs::remove_dir_all(&old)
}

/// Atomically exchanges two paths (Linux with glibc).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both are valid NUL-terminated paths, relative to the working directory.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn exchange(_: &Path, _: &Path) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("vidur-outdir-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        p
    }

    #[test]
    fn replace_dir_swaps_and_removes_the_old_folder() {
        let root = scratch("swap");
        let target = root.join("out");
        let staging = sibling(&target, "tmp", std::process::id());
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("a"), "1").unwrap();
        replace_dir(&staging, &target).unwrap();
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "1");
        fs::create_dir_all(&staging).unwrap();
        fs::write(staging.join("b"), "2").unwrap();
        replace_dir(&staging, &target).unwrap();
        assert!(!target.join("a").exists());
        assert_eq!(fs::read_to_string(target.join("b")).unwrap(), "2");
        let left: Vec<_> = fs::read_dir(&root).unwrap().collect();
        assert_eq!(left.len(), 1, "only the target remains");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_tmp() {
        let dir = scratch("atomic");
        let f = dir.join("a.txt");
        write_atomic(&f, b"one").unwrap();
        write_atomic(&f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.txt"], "no temporary file is left");
        // A missing folder is an error, not a panic, and leaves nothing behind.
        let missing = dir.join("missing/b.txt");
        assert_eq!(
            write_atomic(&missing, b"x").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert!(!dir.join("missing").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn stale_siblings_of_dead_runs_are_removed() {
        let root = scratch("stale");
        let target = root.join("out");
        // Our own pid counts as a dead earlier owner; pid 1 (init) is alive.
        let dead = sibling(&target, "tmp", std::process::id());
        let live = sibling(&target, "old", 1);
        let other = root.join(".other.tmp-1");
        for d in [&dead, &live, &other] {
            fs::create_dir_all(d).unwrap();
        }
        clean_stale_siblings(&target);
        assert!(!dead.exists());
        assert!(live.exists() || !pid_alive(1));
        assert!(other.exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn lock_holds_our_pid_refuses_live_owners_and_takes_over_dead_ones() {
        let root = scratch("lock");
        let lock = OutputLock::acquire(&root).unwrap();
        assert_eq!(
            fs::read_to_string(lock.path()).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(lock);
        assert!(!root.join(LOCK_FILE).exists());
        // A live foreign pid: refused, naming the pid.
        if pid_alive(1) {
            fs::write(root.join(LOCK_FILE), "1\n").unwrap();
            let e = OutputLock::acquire(&root).unwrap_err().to_string();
            assert!(e.contains("pid 1") && e.contains("in use"), "{e}");
        }
        // A dead pid (above Linux's largest pid_max): taken over, and removed on drop.
        fs::write(root.join(LOCK_FILE), "5000000\n").unwrap();
        let l = OutputLock::acquire(&root).unwrap();
        assert_eq!(
            fs::read_to_string(l.path()).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(l);
        assert!(!root.join(LOCK_FILE).exists());
        fs::remove_dir_all(&root).unwrap();
    }
}
