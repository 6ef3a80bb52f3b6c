//! "did you mean `pool`?": the valid name nearest to a misspelt one, as cargo
//! and clap suggest.

/// The candidate closest to `wrong` by edit distance, if one is close enough
/// to be a likely typo (at most a third of its length away, and at least one
/// edit); ties go to the first candidate.
pub(crate) fn nearest<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = wrong.chars().count().max(3) / 3;
    candidates
        .into_iter()
        .map(|c| (distance(&wrong.to_lowercase(), &c.to_lowercase()), c))
        .filter(|&(d, _)| d <= limit.max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// `"; did you mean `NAME`?"` for the nearest candidate, or nothing.
pub(crate) fn hint<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(wrong, candidates)
        .map(|name| format!("; did you mean `{name}`?"))
        .unwrap_or_default()
}

/// Levenshtein distance in characters (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("pool", "pool"), 0);
        assert_eq!(distance("pol", "pool"), 1);
        assert_eq!(distance("sha265", "sha256"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn suggests_only_likely_typos() {
        let keys = ["guest_dirs", "pool", "guests", "fetch", "task", "output"];
        assert_eq!(nearest("pol", keys), Some("pool"));
        assert_eq!(nearest("tasks", keys), Some("task"));
        assert_eq!(nearest("Output", keys), Some("output"));
        assert_eq!(nearest("frobnicate", keys), None);
        assert_eq!(nearest("x", keys), None);
        assert_eq!(hint("fresj", ["reuse", "fresh"]), "; did you mean `fresh`?");
        assert_eq!(hint("zzzzz", ["reuse", "fresh"]), "");
    }
}
