//! The binary: the allocator, and the command line in `ngi_consent::cli`.

use std::process::ExitCode;

/// mimalloc instead of the system allocator: a request allocates and frees many small buffers
/// across threads, which glibc's per-thread arenas serve slowly and hand back to the system late.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    ngi_consent::cli::main()
}
