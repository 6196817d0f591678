//! What a run shows a person: sample grids.

pub mod grid;
