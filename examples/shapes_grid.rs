//! Writes a grid of each built-in shape dataset:
//! `cargo run --release --example shapes_grid -- [DIR]` writes `DIR/centred.png` (the default
//! data), `DIR/silhouettes.png` (the same at random positions) and `DIR/shapes.png` (the
//! outlines). The README's figures come from here.

use std::path::PathBuf;

use gan::data::shapes::{self, Style};
use gan::run::grid::save_grid;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "assets".into()));
    for (name, style) in [
        ("centred", Style::Centred),
        ("silhouettes", Style::Filled),
        ("shapes", Style::Outline),
    ] {
        let data = shapes::generate(64, 28, 42, style);
        let path = dir.join(format!("{name}.png"));
        save_grid(&data.images, data.len, data.channels, data.size, &path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
