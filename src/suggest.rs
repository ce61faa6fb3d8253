//! "Did you mean …?" for misspelt config keys and task definition fields.

/// Damerau-Levenshtein distance (optimal string alignment) between two short words.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let (x, y): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d: Vec<Vec<usize>> = (0..=x.len())
        .map(|i| {
            (0..=y.len())
                .map(|j| {
                    if i == 0 {
                        j
                    } else if j == 0 {
                        i
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect();
    for i in 1..=x.len() {
        for j in 1..=y.len() {
            let cost = usize::from(x[i - 1] != y[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[x.len()][y.len()]
}

/// Whether `typed` is probably a slip for `known`: the same ignoring case, `-` for `_`, or at
/// most two edits away (for words long enough that two edits still say something).
pub fn close(typed: &str, known: &str) -> bool {
    let t = typed.to_ascii_lowercase().replace('-', "_");
    let k = known.to_ascii_lowercase();
    t == k || singular(&t) == singular(&k) || (t.len() >= 4 && edit_distance(&t, &k) <= 2)
}

/// `requiresCompatibilities` -> `requiresCompatibility`, `volumes` -> `volume`.
fn singular(w: &str) -> String {
    if let Some(stem) = w.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        w.strip_suffix('s').unwrap_or(w).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("cluster", "cluster"), 0);
        assert_eq!(edit_distance("clsuter", "cluster"), 1);
        assert_eq!(edit_distance("load_balncer", "load_balancer"), 1);
        assert!(close("containerDefinition", "containerDefinitions"));
        assert!(close("Load-Balancer", "load_balancer"));
        assert!(!close("image", "family"));
        assert!(!close("cpu", "pid"));
    }
}
