//! libres3: an Amazon S3 compatible server. The program lives in the library (src/lib.rs).

fn main() -> std::process::ExitCode {
    libres3::run()
}
