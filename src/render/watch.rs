//! `status --watch`: what to write when the status changes. In a terminal the new frame
//! replaces the old one in place (the cursor goes up over the old lines, which are cleared),
//! so nothing flickers and the scrollback keeps what was there before; elsewhere (a CI log,
//! a pipe) each line that changed is printed once, with the time.

/// The bytes that turn the screen showing `shown` into `next`; empty when nothing changed.
pub fn redraw(shown: &[String], next: &[String], terminal: bool, clock: &str) -> String {
    if shown == next {
        return String::new();
    }
    let mut out = String::new();
    if terminal {
        if !shown.is_empty() {
            // Up over the old frame, then clear from there to the end of the screen.
            out.push_str(&format!("\x1b[{}A\x1b[J", shown.len()));
        }
        for l in next {
            out.push_str(l);
            out.push('\n');
        }
        return out;
    }
    for l in next.iter().filter(|l| !shown.contains(l)) {
        out.push_str(&format!("[{clock}] {l}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_terminal_redraws_in_place_and_a_log_gets_the_changed_lines() {
        let a = lines(&["tasks: web:1: 3", "load balancer web: 3 healthy"]);
        let b = lines(&["tasks: web:1: 3, web:2: 1", "load balancer web: 3 healthy"]);
        let table = [
            (
                &[][..],
                &a[..],
                true,
                "tasks: web:1: 3\nload balancer web: 3 healthy\n",
            ),
            (&a[..], &a[..], true, ""),
            (
                &a[..],
                &b[..],
                true,
                "\x1b[2A\x1b[Jtasks: web:1: 3, web:2: 1\nload balancer web: 3 healthy\n",
            ),
            (
                &a[..],
                &b[..],
                false,
                "[12:00:01] tasks: web:1: 3, web:2: 1\n",
            ),
            (&a[..], &a[..], false, ""),
        ];
        for (shown, next, terminal, want) in table {
            assert_eq!(
                redraw(shown, next, terminal, "12:00:01"),
                want,
                "{shown:?} -> {next:?}"
            );
        }
    }
}
