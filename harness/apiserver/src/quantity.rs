//! Just enough of Kubernetes resource quantities to compare storage sizes.

/// Parses `10Gi`, `500M`, `1e3`, `1.5Ki` into a number of units; `None` if
/// it is not a quantity.
pub(crate) fn parse_bytes(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    Some(n * mult)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn binary_and_decimal_suffixes() {
        assert_eq!(parse_bytes("1Gi"), Some(1073741824.0));
        assert_eq!(parse_bytes("2G"), Some(2e9));
        assert_eq!(parse_bytes("100"), Some(100.0));
        assert!(parse_bytes("1Gi") > parse_bytes("1G"));
        assert_eq!(parse_bytes("lots"), None);
    }
}
