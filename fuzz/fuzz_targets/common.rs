//! Shared by the fuzz targets: a per-process scratch folder for loaders that read files, and
//! the multi-file input format.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Separates the files of a multi-file input (a line holding only `%%`).
pub const SEP: &[u8] = b"\n%%\n";

/// Splits `data` into exactly `n` parts at [`SEP`]; missing parts are empty and the last part
/// keeps any further separators.
pub fn split(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    while out.len() + 1 < n {
        match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + SEP.len()..];
            }
            None => break,
        }
    }
    out.push(rest);
    while out.len() < n {
        out.push(&[]);
    }
    out
}

/// An empty per-process folder on tmpfs (a fresh one per call: the previous input's files are
/// removed so they cannot leak into this one).
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        base.join(format!("vidur-fuzz-{}", std::process::id()))
    });
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("create the scratch folder");
    dir
}

/// Writes `bytes` to `dir/rel`, creating parent folders.
pub fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).expect("create folders");
    std::fs::write(&p, bytes).expect("write a scratch file");
    p
}

/// Gzip-compresses `bytes` (to cover the loaders' `.csv.gz` path with valid streams).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Whether a config may make a loader follow paths out of the scratch folder into special
/// files (`/dev/zero` would be read forever; `../../zero` from `/dev/shm/vidur-fuzz-N` is
/// `/dev/zero` too); such inputs are skipped, as a user naming them is no loader bug.
pub fn names_special_files(text: &[u8]) -> bool {
    [&b"/dev"[..], b"/proc", b"/sys", b"../.."]
        .iter()
        .any(|s| text.windows(s.len()).any(|w| w == *s))
}

/// With `VIDUR_FUZZ_VERBOSE` set, prints why an input was rejected (to check that the seeds
/// get past the loaders: `VIDUR_FUZZ_VERBOSE=1 target/.../<target> seeds/<target>/*`).
pub fn note<T, E: std::fmt::Display>(r: &Result<T, E>) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("VIDUR_FUZZ_VERBOSE").is_some()) {
        match r {
            Ok(_) => eprintln!("ok"),
            Err(e) => eprintln!("rejected: {e}"),
        }
    }
}
