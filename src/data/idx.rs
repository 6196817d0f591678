//! The IDX file format of MNIST and Fashion-MNIST: a magic number, big-endian sizes, raw bytes.

use std::fs;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use flate2::read::GzDecoder;

/// An IDX array of unsigned bytes.
#[derive(Debug, PartialEq, Eq)]
pub struct Idx {
    /// Size of each dimension, outermost first.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Reads an IDX file of unsigned bytes with `ndims` dimensions, gzipped or not.
pub fn read(path: &Path, ndims: usize) -> Result<Idx> {
    let raw = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    // Gzip is recognised by content, not by name: renamed files still load.
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{}: corrupt or truncated gzip data", path.display()))?;
        out
    } else {
        raw
    };
    parse(&bytes, ndims).with_context(|| path.display().to_string())
}

/// Parses IDX bytes; the error says what is wrong without the file name.
pub fn parse(bytes: &[u8], ndims: usize) -> Result<Idx> {
    let expected = [0u8, 0, 0x08, ndims as u8];
    if bytes.len() < 4 || bytes[..4] != expected {
        let got: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
        bail!(
            "not an IDX file of {ndims}-D unsigned bytes: magic number is {} (expected {})",
            if got.is_empty() {
                "missing".to_string()
            } else {
                got.join(" ")
            },
            expected.map(|b| format!("{b:02x}")).join(" ")
        );
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        bail!(
            "truncated IDX header: {} bytes, the sizes need {header}",
            bytes.len()
        );
    }
    let dims: Vec<usize> = bytes[4..header]
        .chunks(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let want = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .context("IDX sizes overflow")?;
    let have = bytes.len() - header;
    if have < want {
        bail!(
            "truncated IDX payload: sizes {dims:?} need {want} bytes, the file has {have} after the header"
        );
    }
    if have > want {
        bail!("IDX file has {} bytes beyond sizes {dims:?}", have - want);
    }
    Ok(Idx {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Encodes an IDX array of unsigned bytes (for fixtures and exports).
pub fn encode(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        out.extend((d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..24).collect();
        let idx = parse(&encode(&[2, 3, 4], &data), 3).unwrap();
        assert_eq!(idx.dims, vec![2, 3, 4]);
        assert_eq!(idx.data, data);
    }

    #[test]
    fn wrong_magic_is_refused() {
        let mut bytes = encode(&[2], &[1, 2]);
        let err = parse(&bytes, 3).unwrap_err().to_string();
        assert!(err.contains("magic number is 00 00 08 01"), "{err}");
        bytes[2] = 0x0d; // float data
        assert!(parse(&bytes, 1).is_err());
        assert!(parse(b"", 1).unwrap_err().to_string().contains("missing"));
    }

    #[test]
    fn truncated_or_oversized_payload_is_refused() {
        let bytes = encode(&[3, 2, 2], &[7; 12]);
        let err = parse(&bytes[..bytes.len() - 1], 3).unwrap_err().to_string();
        assert!(err.contains("truncated IDX payload"), "{err}");
        assert!(
            parse(&bytes[..9], 3)
                .unwrap_err()
                .to_string()
                .contains("header")
        );
        let mut long = bytes.clone();
        long.push(0);
        assert!(parse(&long, 3).is_err());
    }
}
