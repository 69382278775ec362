//! The protobuf wire format: a message is a run of (field number, value)
//! pairs, and the schema says what each value means.

pub(super) enum Wire<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

/// The (field number, value) pairs of one message, in wire order.
pub(super) fn fields(mut buf: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, String> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let (key, rest) = varint(buf)?;
        buf = rest;
        let number = u32::try_from(key >> 3).map_err(|_| "field number out of range")?;
        let value = match key & 7 {
            0 => {
                let (v, rest) = varint(buf)?;
                buf = rest;
                Wire::Varint(v)
            }
            1 => {
                let (v, rest) = split(buf, 8)?;
                buf = rest;
                Wire::Fixed64(u64::from_le_bytes(v.try_into().expect("8 bytes")))
            }
            2 => {
                let (len, rest) = varint(buf)?;
                let len = usize::try_from(len).map_err(|_| "length out of range")?;
                let (v, rest) = split(rest, len)?;
                buf = rest;
                Wire::Bytes(v)
            }
            5 => {
                let (v, rest) = split(buf, 4)?;
                buf = rest;
                Wire::Fixed32(u32::from_le_bytes(v.try_into().expect("4 bytes")))
            }
            other => return Err(format!("unsupported wire type {other}")),
        };
        out.push((number, value));
    }
    Ok(out)
}

fn split(buf: &[u8], n: usize) -> Result<(&[u8], &[u8]), String> {
    if buf.len() < n {
        return Err("unexpected EOF".into());
    }
    Ok(buf.split_at(n))
}

pub(super) fn varint(buf: &[u8]) -> Result<(u64, &[u8]), String> {
    let mut v = 0u64;
    for (i, b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, &buf[i + 1..]));
        }
    }
    Err("bad varint".into())
}
