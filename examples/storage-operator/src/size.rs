//! Sizes: Kubernetes quantities to bytes and back, in the whole Gi a cloud
//! disk is sold in.

/// Bytes in one Gi.
pub const GI: u64 = 1 << 30;

/// A quantity (`5Gi`, `500M`, `1.5Ti`, `1073741824`) in bytes; `None` when
/// it does not parse (the CRD's CEL rules refuse those at admission).
pub fn bytes(quantity: &str) -> Option<u64> {
    let s = quantity.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let unit: f64 = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        // The decimal exponent form: `5e9`, `1E3`.
        e if e.starts_with(['e', 'E']) => 10f64.powi(e[1..].parse().ok()?),
        _ => return None,
    };
    let bytes = (n * unit).ceil();
    (bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `bytes` rounded up to whole Gi.
pub fn round_up_gi(bytes: u64) -> u64 {
    bytes.div_ceil(GI) * GI
}

/// Bytes as the quantity the operator writes: whole Gi when they are
/// (`10Gi`), plain bytes otherwise.
pub fn quantity(bytes: u64) -> String {
    if bytes.is_multiple_of(GI) {
        format!("{}Gi", bytes / GI)
    } else {
        bytes.to_string()
    }
}

/// The least a growth adds to `current`: `step` as a percentage (`20%`) or
/// a quantity (`5Gi`); 20% when absent or unreadable.
pub fn step(current: u64, step: Option<&str>) -> u64 {
    let percent = |p: u64| current.saturating_mul(p).div_ceil(100);
    match step {
        Some(s) if s.ends_with('%') => s[..s.len() - 1].parse().map_or(percent(20), percent),
        Some(s) => bytes(s).unwrap_or_else(|| percent(20)),
        None => percent(20),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_and_print_in_gi() {
        assert_eq!(bytes("5Gi"), Some(5 * GI));
        assert_eq!(bytes("1.5Gi"), Some(GI * 3 / 2));
        assert_eq!(bytes("500M"), Some(500_000_000));
        assert_eq!(bytes("5 apples"), None);
        assert_eq!(bytes("1Pi"), Some(GI << 20));
        assert_eq!(bytes("5e9"), Some(5_000_000_000));
        assert_eq!(bytes("500m"), Some(1));
        assert_eq!(quantity(10 * GI), "10Gi");
        assert_eq!(quantity(GI + 1), (GI + 1).to_string());
        assert_eq!(round_up_gi(GI + 1), 2 * GI);
        assert_eq!(round_up_gi(2 * GI), 2 * GI);
    }

    #[test]
    fn steps_are_percent_or_quantity() {
        assert_eq!(step(10 * GI, Some("50%")), 5 * GI);
        assert_eq!(step(10 * GI, Some("3Gi")), 3 * GI);
        assert_eq!(step(10 * GI, None), 2 * GI);
    }
}
