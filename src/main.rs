//! The `threatmark` binary: everything lives in the library; see `threatmark::cli`.

fn main() -> std::process::ExitCode {
    threatmark::cli::main()
}
