//! Splitting a test's load across a fleet's agents exactly: whole users,
//! rates in proportion to them, CSV rows by share.

/// `total` users over `agents` agents: whole users, the first agents taking
/// one more when they do not divide (7 on 3: 3, 2, 2). The parts add up to
/// `total`; an agent may get 0 when there are more agents than users.
pub fn users(total: u64, agents: usize) -> Vec<u64> {
    let agents = agents.max(1) as u64;
    let (base, extra) = (total / agents, total % agents);
    (0..agents).map(|i| base + u64::from(i < extra)).collect()
}

/// Why a rate cannot be split.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} {rate} is too small to split over {agents} agents: each needs at least 0.001")]
pub struct TooSmall {
    /// The argument's name.
    pub key: &'static str,
    /// The rate given.
    pub rate: String,
    /// The agents it was split over.
    pub agents: usize,
}

/// `rate` (users or iterations per second) over agents running `users`
/// users each: in proportion to their users, so each user of the fleet
/// is paced alike and every agent's ramp ends together. Shares are whole
/// thousandths, rounded by largest remainder: they add up to `rate` (to
/// the thousandth) and none is 0.
pub fn rate(key: &'static str, rate: f64, users: &[u64]) -> Result<Vec<f64>, TooSmall> {
    let too_small = || TooSmall {
        key,
        rate: rate.to_string(),
        agents: users.len(),
    };
    let whole = users.iter().map(|u| u128::from(*u)).sum::<u128>().max(1);
    // A rate past u64 thousandths is refused by the caps long before.
    let milli = (rate * 1000.0).round().clamp(0.0, u64::MAX as f64) as u128;
    let mut shares: Vec<(u128, u128)> = users
        .iter()
        .map(|u| {
            let exact = milli * u128::from(*u);
            (exact / whole, exact % whole)
        })
        .collect();
    let given: u128 = shares.iter().map(|(share, _)| share).sum();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    // Largest remainder first; ties to the earlier agent (stable sort).
    order.sort_by(|a, b| shares[*b].1.cmp(&shares[*a].1));
    for &i in order
        .iter()
        .take(usize::try_from(milli - given).unwrap_or(usize::MAX))
    {
        shares[i].0 += 1;
    }
    if shares.iter().any(|(share, _)| *share == 0) {
        return Err(too_small());
    }
    Ok(shares
        .into_iter()
        .map(|(share, _)| share as f64 / 1000.0)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_split_into_whole_parts_that_add_up() {
        assert_eq!(users(7, 3), [3, 2, 2]);
        assert_eq!(users(9, 3), [3, 3, 3]);
        assert_eq!(users(2, 3), [1, 1, 0]);
        assert_eq!(users(100_000, 7).iter().sum::<u64>(), 100_000);
        assert_eq!(users(5, 0), [5]);
        for total in 0..50 {
            for agents in 1..12 {
                let parts = users(total, agents);
                assert_eq!(parts.iter().sum::<u64>(), total);
                let (min, max) = (parts.iter().min(), parts.iter().max());
                assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1));
            }
        }
    }

    fn thousandths(parts: &[f64]) -> u64 {
        parts.iter().map(|p| (p * 1000.0).round() as u64).sum()
    }

    #[test]
    fn rates_follow_the_users_and_add_up_to_the_thousandth() {
        assert_eq!(rate("spawn_rate", 9.0, &[3, 3, 3]), Ok(vec![3.0, 3.0, 3.0]));
        let parts = rate("spawn_rate", 10.0, &[3, 2, 2]).expect("splits");
        assert_eq!(parts, [4.286, 2.857, 2.857]);
        assert_eq!(thousandths(&parts), 10_000);
        let parts = rate("arrival_rate", 0.5, &[1, 1, 1]).expect("splits");
        assert_eq!(thousandths(&parts), 500);
        for (r, u) in [
            (7.25, vec![5u64, 1, 9, 4]),
            (1000.0, vec![1; 7]),
            (3.0, vec![2, 1]),
        ] {
            let parts = rate("arrival_rate", r, &u).expect("splits");
            assert_eq!(thousandths(&parts), (r * 1000.0) as u64);
            assert!(parts.iter().all(|p| *p > 0.0));
        }
    }

    #[test]
    fn a_rate_too_small_for_the_agents_is_refused() {
        let err = rate("arrival_rate", 0.002, &[1, 1, 1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "arrival_rate 0.002 is too small to split over 3 agents: each needs at least 0.001"
        );
    }
}
