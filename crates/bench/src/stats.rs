//! Medians, percentiles and spreads of samples. Pure.

/// What a set of samples looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

/// The `p`-th percentile (0..=100) of sorted samples, nearest rank: the smallest sample with
/// at least `p`% of the samples at or below it, so p99 of 100 samples is the 99th, never an
/// interpolation between two.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarizes samples (any order). `None` when there are none.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    Some(Summary {
        n: s.len(),
        min: s[0],
        p50: percentile(&s, 50.0),
        p99: percentile(&s, 99.0),
        max: s[s.len() - 1],
    })
}

/// The median of samples (any order); `NaN` when there are none.
pub fn median(samples: &[f64]) -> f64 {
    summarize(samples).map_or(f64::NAN, |s| s.p50)
}

/// (min, max) of samples; `(NaN, NaN)` when there are none.
pub fn range(samples: &[f64]) -> (f64, f64) {
    summarize(samples).map_or((f64::NAN, f64::NAN), |s| (s.min, s.max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&s, 50.0), 50.0);
        assert_eq!(percentile(&s, 99.0), 99.0);
        assert_eq!(percentile(&s, 100.0), 100.0);
        assert_eq!(percentile(&s, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        // Ten samples: p99 is the largest, p50 the fifth.
        let s: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&s, 99.0), 10.0);
        assert_eq!(percentile(&s, 50.0), 5.0);
    }

    #[test]
    fn summaries_ignore_order() {
        let s = summarize(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.n, s.min, s.p50, s.max), (3, 1.0, 2.0, 3.0));
        assert!(summarize(&[]).is_none());
        assert!(median(&[]).is_nan());
        assert_eq!(range(&[5.0, -1.0, 2.0]), (-1.0, 5.0));
    }
}
