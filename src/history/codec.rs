//! The latency histograms as stored: HDR's V2 serialization (uncompressed),
//! which keeps every count, so a histogram read back gives the same
//! percentiles, minimum, maximum and mean as the one written.

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

use super::HistoryError;

/// `histogram` as bytes for the `histogram` column.
pub(super) fn encode(histogram: &Histogram<u64>) -> Result<Vec<u8>, HistoryError> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|e| HistoryError::Histogram(format!("{e:?}")))?;
    Ok(bytes)
}

/// The histogram stored as `bytes` (the name says whose, for the error).
pub(super) fn decode(bytes: &[u8], name: &str) -> Result<Histogram<u64>, HistoryError> {
    let mut reader = bytes;
    Deserializer::new()
        .deserialize(&mut reader)
        .map_err(|e| HistoryError::Corrupt(format!("the histogram of {name:?}: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::new_histogram;

    #[test]
    fn round_trips_exactly() {
        let mut h = new_histogram();
        for us in [1_u64, 7, 999, 1_234, 56_789, 3_600_000_000] {
            h.saturating_record(us);
        }
        let back = decode(&encode(&h).expect("encodes"), "x").expect("decodes");
        assert_eq!(back.len(), h.len());
        assert_eq!((back.min(), back.max()), (h.min(), h.max()));
        assert_eq!(back.mean().to_bits(), h.mean().to_bits());
        assert_eq!(back.value_at_quantile(0.9), h.value_at_quantile(0.9));
        assert!(decode(b"nonsense", "x").is_err());
    }
}
