//! A unified line diff for showing task definition changes (`diff`, `deploy --dry-run`).

/// Lines of `a` and `b` compared by longest common subsequence; changed lines with three lines
/// of context, hunks separated by `@@`.
pub fn unified(a: &str, b: &str) -> String {
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: common length of a[i..] and b[j..]; task definitions are a few hundred lines.
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, (k, _))| *k != ' ')
        .map(|(i, _)| i)
        .collect();
    let mut out = String::new();
    let mut last_shown: Option<usize> = None;
    for (idx, op) in ops.iter().enumerate() {
        let near = changed.iter().any(|&c| c.abs_diff(idx) <= CONTEXT);
        if !near {
            continue;
        }
        if last_shown.is_some_and(|l| idx > l + 1) || (last_shown.is_none() && idx > 0) {
            out.push_str("@@\n");
        }
        out.push(op.0);
        out.push_str(op.1);
        out.push('\n');
        last_shown = Some(idx);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn shows_only_changed_lines_with_context() {
        let a = "a\nb\nc\nd\ne\nf\ng\nh\n\"image\": \"app:v1\"\ni\n";
        let b = "a\nb\nc\nd\ne\nf\ng\nh\n\"image\": \"app:v2\"\ni\n";
        let d = unified(a, b);
        assert_eq!(
            d,
            "@@\n f\n g\n h\n-\"image\": \"app:v1\"\n+\"image\": \"app:v2\"\n i\n"
        );
    }

    #[test]
    fn identical_inputs_have_an_empty_diff() {
        assert_eq!(unified("x\ny\n", "x\ny\n"), "");
    }
}
