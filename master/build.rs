//! Compiles the PostgreSQL variants of the database tests in (cfg `postgres_tests`) when
//! `PAPERTRADER_TEST_POSTGRES_URL` names a server; otherwise they are marked ignored, which
//! `cargo test` reports for every one of them.

fn main() {
    println!("cargo:rerun-if-env-changed=PAPERTRADER_TEST_POSTGRES_URL");
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    if std::env::var("PAPERTRADER_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo:rustc-cfg=postgres_tests");
    }
}
