//! The bodies of the fuzz targets, shared with the corpus replay tests
//! (`tests/fuzz_corpus.rs`, `tools/tests/fuzz_corpus.rs`), which include
//! these files with `#[path]` so that the corpora run on stable under
//! `cargo test`.

pub mod library;
pub mod tools;
