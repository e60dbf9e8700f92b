//! The `ld-tower` binary: the command line ([`cli`]) and the demo
//! ([`demo`]) over the `ld_tower` library. Neither is part of the
//! library's API: a program that embeds ld-tower uses `Server`,
//! `ControlStack`, `Control` and `Client` from the library.

mod cli;
mod demo;

fn main() -> std::process::ExitCode {
    cli::main()
}
