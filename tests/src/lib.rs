//! Repository-level checks (see `tests/deployment.rs`). Cross-process tests of the binaries
//! live beside the binary they run (`cli/tests/e2e`), where Cargo provides its path.
