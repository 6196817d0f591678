//! End-to-end tests: one integration-test crate (burn is linked once), one module per area.
//! Most run the built `gan` binary as a user would; `backends` drives the library directly.

mod backends;
mod common;
mod compare;
mod concurrency;
mod condition;
mod data;
mod eval;
mod resume;
mod sparsity;
mod train;
