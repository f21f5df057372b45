//! What README.md promises a new user, beyond its session block (run in `cluster.rs`).

/// The README, as committed.
const README: &str = include_str!("../../../README.md");

#[test]
fn the_readme_installs_papertrader_on_the_path_and_shows_the_postgresql_path() {
    // The two commands.
    assert!(README.contains("\ncargo run --release -p papertrader -- up\n"));
    assert!(README.contains("\ncargo test --workspace\n"));
    // `papertrader` on the PATH, not an alias that only works inside the repository.
    assert!(README.contains("\ncargo install --path cli\n"));
    assert!(!README.contains("alias papertrader='cargo run"));
    // PostgreSQL: the flag, and that the database must exist (`up.rs` runs both).
    assert!(README.contains("up --database-url postgres://"));
    assert!(README.contains("The database must exist"));
    // The session block is still there for `cluster.rs`.
    assert!(README.contains("<!-- session:start -->") && README.contains("<!-- session:end -->"));
}
