//! Byte sizes on the command line: `1048576`, `64KiB`, `16MiB`, `2GiB`
//! (powers of 1024), or `500K`, `10MB`, `1G` (powers of 1000), parsed by the
//! `bytesize` crate.

use bytesize::ByteSize;

/// Parses a byte size of at least one byte that fits in memory sizes.
pub(crate) fn parse_size(text: &str) -> Result<usize, String> {
    let size: ByteSize = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size; try 1048576, 64KiB, 16MiB or 2GiB"))?;
    match usize::try_from(size.as_u64()) {
        Ok(0) => Err("must be more than zero".into()),
        Ok(bytes) => Ok(bytes),
        Err(_) => Err(format!("{text:?} is too large")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("16 MiB"), Ok(16 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-5").is_err());
    }
}
