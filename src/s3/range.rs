//! The `Range` header (RFC 9110 §14), single ranges as S3 serves them.

use crate::s3::error::{S3Error, S3ErrorCode};
use crate::store::ByteRange;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// `bytes=a-b`
    FromTo(u64, u64),
    /// `bytes=a-`
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

/// Parses a Range header. Like S3, a header we cannot parse or one asking for several ranges
/// is ignored (the whole object is sent), so None.
pub fn parse(header: &str) -> Option<RangeSpec> {
    let spec = header.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, false) => Some(RangeSpec::Suffix(number(last)?)),
        (false, true) => Some(RangeSpec::From(number(first)?)),
        (false, false) => {
            let (a, b) = (number(first)?, number(last)?);
            (a <= b).then_some(RangeSpec::FromTo(a, b))
        }
        (true, true) => None,
    }
}

/// The bytes a range selects in an object of `size` bytes, or InvalidRange (416).
pub fn resolve(spec: RangeSpec, size: u64) -> Result<ByteRange, S3Error> {
    let unsatisfiable = || {
        S3Error::new(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        )
        .with_detail("ActualObjectSize", size.to_string())
    };
    if size == 0 {
        return Err(unsatisfiable());
    }
    let range = match spec {
        RangeSpec::FromTo(first, last) if first < size => ByteRange {
            first,
            last: last.min(size - 1),
        },
        RangeSpec::From(first) if first < size => ByteRange {
            first,
            last: size - 1,
        },
        RangeSpec::Suffix(n) if n > 0 => ByteRange {
            first: size.saturating_sub(n),
            last: size - 1,
        },
        _ => return Err(unsatisfiable()),
    };
    Ok(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(parse("bytes=0-0"), Some(RangeSpec::FromTo(0, 0)));
        assert_eq!(parse("bytes=5-"), Some(RangeSpec::From(5)));
        assert_eq!(parse("bytes=-3"), Some(RangeSpec::Suffix(3)));
        assert_eq!(parse("bytes=3-1"), None);
        assert_eq!(parse("bytes=0-1,4-5"), None);
        assert_eq!(parse("items=0-1"), None);
        assert_eq!(parse("bytes=-"), None);
        assert_eq!(parse("bytes=a-1"), None);
        assert_eq!(parse("bytes=+1-2"), None);
    }

    #[test]
    fn resolving() {
        let r = |first, last| Ok(ByteRange { first, last });
        let code = |res: Result<ByteRange, S3Error>| res.map_err(|e| e.code);
        assert_eq!(code(resolve(RangeSpec::FromTo(0, 0), 10)), r(0, 0));
        assert_eq!(code(resolve(RangeSpec::FromTo(5, 100), 10)), r(5, 9));
        assert_eq!(code(resolve(RangeSpec::From(9), 10)), r(9, 9));
        assert_eq!(code(resolve(RangeSpec::Suffix(3), 10)), r(7, 9));
        assert_eq!(code(resolve(RangeSpec::Suffix(30), 10)), r(0, 9));
        let invalid = Err(S3ErrorCode::InvalidRange);
        assert_eq!(code(resolve(RangeSpec::From(10), 10)), invalid);
        assert_eq!(code(resolve(RangeSpec::FromTo(10, 12), 10)), invalid);
        assert_eq!(code(resolve(RangeSpec::Suffix(0), 10)), invalid);
        assert_eq!(code(resolve(RangeSpec::From(0), 0)), invalid);
    }
}
