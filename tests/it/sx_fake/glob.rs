//! SX listing filters: `*` (not across `/`), `?`, `[...]`, `\` escapes.

pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    match_at(&p, &n)
}

fn match_at(p: &[char], n: &[char]) -> bool {
    match p.first() {
        None => n.is_empty(),
        Some('*') => (0..=n.len())
            .take_while(|i| *i == 0 || n[i - 1] != '/')
            .any(|i| match_at(&p[1..], &n[i..])),
        Some('?') => n.first().is_some_and(|c| *c != '/') && match_at(&p[1..], &n[1..]),
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return n.first() == Some(&'[') && match_at(&p[1..], &n[1..]);
            };
            let Some(c) = n.first() else { return false };
            let set = &p[1..close];
            let (negate, set) = match set.first() {
                Some('!') | Some('^') => (true, &set[1..]),
                _ => (false, set),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= *c && *c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == *c;
                    i += 1;
                }
            }
            hit != negate && match_at(&p[close + 1..], &n[1..])
        }
        Some('\\') if p.len() > 1 => n.first() == Some(&p[1]) && match_at(&p[2..], &n[1..]),
        Some(c) => n.first() == Some(c) && match_at(&p[1..], &n[1..]),
    }
}

/// A recursive filter: the path matches, or one of its parent directories does.
pub fn matches_or_under(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_end_matches('/');
    if pattern.is_empty() {
        return true;
    }
    if matches(pattern, path) {
        return true;
    }
    path.match_indices('/')
        .any(|(i, _)| matches(pattern, &path[..i]))
}

#[test]
fn globs() {
    assert!(matches("a/*.txt", "a/x.txt"));
    assert!(!matches("*", "a/b"));
    assert!(matches("\\*", "*"));
    assert!(matches("[a-c]x", "bx"));
    assert!(matches_or_under("d1", "d1/d2/d3/f"));
    assert!(matches_or_under(
        ".libres3/parts/ab",
        ".libres3/parts/ab/00001"
    ));
    assert!(!matches_or_under(
        ".libres3/parts/ab",
        ".libres3/parts/abc/00001"
    ));
}
