//! The `host` binary: a thin shell over [`sandstep_host::cli`].

// JSON values are many small allocations made and freed on every state and
// task call; mimalloc serves them far faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sandstep_host::cli::main()
}
