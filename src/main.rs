//! `vidur-search` binary: parse arguments, run, print errors with their causes, exit non-zero
//! on failure.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // `vidur-search ... | head` must end quietly, as Unix tools do, not panic on a closed pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default SIGPIPE action before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = vidur_search::cli::Cli::parse();
    match vidur_search::cli::main_with_args(cli) {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("error: {}", vidur_search::cli::error_message(&e));
            std::process::ExitCode::from(2)
        }
    }
}
