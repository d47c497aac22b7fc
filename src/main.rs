//! The `sessim` binary: parse arguments, run, map errors to exit codes (2 for bad input, 1 for
//! anything else; clap itself exits 2 on a usage error).

use clap::Parser;

#[global_allocator]
static ALLOC: sessim::alloc::HugePages = sessim::alloc::HugePages;

fn main() {
    let cli = sessim::cli::Cli::parse();
    if let Err(e) = sessim::cli::main_with(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
