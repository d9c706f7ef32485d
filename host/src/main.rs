use std::process::ExitCode;

fn main() -> ExitCode {
    socialcrm::cli::main()
}
