//! How long a failure reply is held, so that its timing tells nothing.

use std::time::Duration;

/// The hold of every failure reply: a floor plus a smooth jitter.
///
/// - The **floor** hides the verification: it must be at least the most
///   expensive verification the accounts can cause (an application measures
///   [`Authenticator::run_dummy_verification`](crate::Authenticator::run_dummy_verification)
///   at start-up and takes a margin over it). Every failure (unknown user,
///   wrong password in any format, locked, expired) then leaves at receipt
///   plus the same floor, whatever it cost.
/// - The **jitter** is `base × (0.5 + (u1 + u2 + u3) / 3)` for three
///   uniform draws in `[0, 1)`, as libpam sums three uniform draws: it spans
///   half to one and a half times `base` with a mean of `base`, and its
///   density falls smoothly to zero at both ends. A uniform jitter has a
///   sharp lower edge, and the minimum of a few hundred samples finds it
///   (then the floor under it shows again).
///
/// The type is pure: the draws are handed in, so the shape can be tested
/// and no clock or random source is read here.
///
/// ```
/// use std::time::Duration;
/// use passwd_auth::FailureDelay;
///
/// let delay = FailureDelay::new(Duration::from_millis(80), Duration::from_secs(2));
/// assert_eq!(delay.sample([0.5, 0.5, 0.5]), Duration::from_millis(2080));
/// assert_eq!(delay.sample([0.0, 0.0, 0.0]), Duration::from_millis(1080));
/// // No jitter: every failure leaves at exactly the floor.
/// let flat = FailureDelay::new(Duration::from_millis(80), Duration::ZERO);
/// assert_eq!(flat.sample([0.9, 0.1, 0.7]), Duration::from_millis(80));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureDelay {
    /// Held always: at least the most expensive verification.
    pub floor: Duration,
    /// The mean of the added jitter (zero: none).
    pub jitter: Duration,
}

impl FailureDelay {
    /// A delay of `floor` plus a jitter averaging `jitter`.
    pub fn new(floor: Duration, jitter: Duration) -> Self {
        Self { floor, jitter }
    }

    /// One hold, from three draws in `[0, 1)` (values outside are clamped).
    pub fn sample(&self, draws: [f64; 3]) -> Duration {
        let sum: f64 = draws.iter().map(|draw| draw.clamp(0.0, 1.0)).sum();
        let factor = 0.5 + sum / 3.0;
        self.floor + self.jitter.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for the draws (a test must not
    /// depend on luck).
    fn draws(count: usize) -> impl Iterator<Item = [f64; 3]> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..count).map(move |_| [next(), next(), next()])
    }

    #[test]
    fn the_jitter_is_smooth_and_centred() {
        let delay = FailureDelay::new(Duration::from_millis(100), Duration::from_millis(2000));
        let samples: Vec<f64> = draws(100_000)
            .map(|d| delay.sample(d).as_secs_f64() * 1000.0)
            .collect();
        let min = samples.iter().copied().fold(f64::MAX, f64::min);
        let max = samples.iter().copied().fold(f64::MIN, f64::max);
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        // Within [floor + 0.5 jitter, floor + 1.5 jitter).
        assert!(min >= 1100.0 && max < 3100.0, "{min} {max}");
        assert!((mean - 2100.0).abs() < 10.0, "{mean}");
        // No sharp edge: the lowest 5% of the range holds about
        // (3 * 0.05)^3 / 6 = 0.06% of the samples (a uniform jitter: 5%).
        let low = samples.iter().filter(|&&s| s < 1100.0 + 100.0).count();
        assert!(
            low < samples.len() / 500,
            "{low} samples near the lower edge"
        );
        // ...and the middle tenth holds far more than a uniform's 10%.
        let middle = samples
            .iter()
            .filter(|&&s| (2000.0..2200.0).contains(&s))
            .count();
        assert!(middle > samples.len() / 5, "{middle} in the middle tenth");
    }
}
