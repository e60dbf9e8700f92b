//! The `ld-tower` binary: a thin front over [`ld_tower::cli`].

fn main() -> std::process::ExitCode {
    ld_tower::cli::main()
}
