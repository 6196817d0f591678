//! Writes a grid of the built-in shapes dataset: `cargo run --release --example shapes_grid -- [FILE]`.
//! The README's figure `assets/shapes.png` comes from here.

use gan::data::shapes;
use gan::run::grid::save_grid;

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "assets/shapes.png".into());
    let data = shapes::generate(64, 28, 42);
    save_grid(
        &data.images,
        data.len,
        data.channels,
        data.size,
        path.as_ref(),
    )?;
    println!("wrote {path}");
    Ok(())
}
