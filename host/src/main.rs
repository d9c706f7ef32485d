use std::process::ExitCode;

fn main() -> ExitCode {
    // `socialcrm plugin inspect x | head` should end quietly when the reader
    // goes away, as other command-line tools do, instead of panicking in println.
    #[cfg(unix)]
    // SAFETY: called first thing, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    socialcrm::cli::main()
}
