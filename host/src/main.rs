use std::process::ExitCode;

// glibc's allocator took a quarter of the CPU of an API page (many small,
// short-lived allocations on several threads); docs/architecture.md,
// "Where API time goes".
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
