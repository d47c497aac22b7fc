//! The `sessim` binary: parse arguments, run, map errors to exit codes (2 for bad input, 1 for
//! anything else; clap itself exits 2 on a usage error).

use clap::Parser;

#[global_allocator]
static ALLOC: sessim::alloc::HugePages = sessim::alloc::HugePages;

fn main() {
    // Rust ignores SIGPIPE, so printing to a closed pipe (`sessim check X | head -1`) would
    // panic; with the default action the process ends quietly, as Unix filters do.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = sessim::cli::Cli::parse();
    if let Err(e) = sessim::cli::main_with(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
