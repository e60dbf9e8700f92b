//! Known keys per place, and the closest one to a typo.

use super::Segment;

/// The keys known at each place of a document, for suggestions.
pub trait Vocabulary {
    /// The keys an object at `parent` may have (`[]` is the root).
    fn keys_at(&self, parent: &[Segment]) -> &'static [&'static str];
}

/// The known key closest to `key`, when one is close enough to be a typo
/// of it: Damerau-Levenshtein distance at most 2 (and less than the key's
/// length), or the same up to case, `-` and `_`.
pub fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let folded = fold(key);
    if let Some(same) = known.iter().find(|k| fold(k) == folded) {
        return Some(same);
    }
    known
        .iter()
        .map(|k| (strsim::damerau_levenshtein(key, k), *k))
        .filter(|(distance, _)| *distance <= 2 && *distance < key.chars().count())
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, k)| k)
}

fn fold(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        let known = &["user_count", "spawn_rate", "test_time", "tasks"];
        assert_eq!(closest("user_cont", known), Some("user_count"));
        assert_eq!(closest("spawnrate", known), Some("spawn_rate"));
        assert_eq!(closest("Test-Time", known), Some("test_time"));
        assert_eq!(closest("taks", known), Some("tasks"));
        assert_eq!(closest("colour", known), None);
        assert_eq!(closest("x", known), None);
    }
}
