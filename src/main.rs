//! libres3: an Amazon S3 compatible server. The program lives in the library (src/lib.rs).

/// The static build replaces musl's allocator (see Cargo.toml); glibc builds keep glibc's.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    libres3::run()
}
