//! The `host` binary: a thin shell over [`sandstep_host::cli`].

fn main() -> std::process::ExitCode {
    sandstep_host::cli::main()
}
