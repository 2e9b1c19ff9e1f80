//! Sizes and rates on the command line: `4M`, `512K`, `1G`, `16KiB`, plain bytes.

/// Parses a byte count with an optional binary suffix (K, M, G, T; `KiB`, `KB` and lowercase
/// spellings mean the same: 1024-based, as mktorrent, Transmission and aria2 count).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits_end = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, suffix) = trimmed.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!(
            "{text:?} is not a size: expected digits like 4M or 262144"
        ));
    }
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown size suffix {other:?} in {text:?} (use K, M or G)"
            ))
        }
    };
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Smallest and largest piece sizes accepted on the command line (clients reject others).
pub const MIN_PIECE: u64 = 16 << 10;
pub const MAX_PIECE: u64 = 64 << 20;

/// A piece size: a size as [`parse_bytes`] reads it, or, like `mktorrent -l 20`, a power-of-two
/// exponent below 64. It must be a power of two from 16 KiB to 64 MiB.
pub fn parse_piece_size(text: &str) -> Result<u64, String> {
    let value = parse_bytes(text)?;
    let bytes = if value < 64 && text.trim().chars().all(|c| c.is_ascii_digit()) {
        1u64 << value
    } else {
        value
    };
    if !bytes.is_power_of_two() || !(MIN_PIECE..=MAX_PIECE).contains(&bytes) {
        return Err(format!(
            "piece size {text:?} = {bytes} bytes: it must be a power of two from 16K to 64M"
        ));
    }
    Ok(bytes)
}

/// `1.5 MiB`-style text for the terminal.
pub fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_bytes("4M"), Ok(4 << 20));
        assert_eq!(parse_bytes("512k"), Ok(512 << 10));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("16KiB"), Ok(16 << 10));
        assert_eq!(parse_bytes("1000"), Ok(1000));
        assert_eq!(parse_bytes(" 2 MB "), Ok(2 << 20));
        assert!(parse_bytes("M").is_err());
        assert!(parse_bytes("-4M").is_err());
        assert!(parse_bytes("4X").unwrap_err().contains("suffix"));
        assert!(parse_bytes("99999999999999999999").is_err());
        assert!(parse_bytes("20000000T").unwrap_err().contains("too large"));
    }

    #[test]
    fn piece_sizes_are_powers_of_two_in_range_or_exponents() {
        assert_eq!(parse_piece_size("20"), Ok(1 << 20));
        assert_eq!(parse_piece_size("256K"), Ok(256 << 10));
        assert_eq!(parse_piece_size("16384"), Ok(16384));
        assert!(parse_piece_size("8K").is_err());
        assert!(parse_piece_size("100K").is_err());
        assert!(parse_piece_size("128M").is_err());
        assert!(parse_piece_size("10").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_bytes(12.0), "12 B");
        assert_eq!(human_bytes(1536.0), "1.5 KiB");
        assert_eq!(human_bytes(4.0 * 1024.0 * 1024.0), "4.0 MiB");
    }
}
