//! The matching primitives of ALB conditions: wildcard patterns, CIDRs, query strings.
use std::net::IpAddr;

/// Whether `text` matches `pattern`, where `*` matches zero or more characters and `?` exactly
/// one. With `escapes`, `\*`, `\?` and `\\` stand for the literal character (query-string
/// values). With `ignore_case`, ASCII letters compare case-insensitively.
#[must_use]
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool, escapes: bool) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum Tok {
        Lit(char),
        One,
        Any,
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if escapes => toks.push(Tok::Lit(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Any),
            '?' => toks.push(Tok::One),
            c => toks.push(Tok::Lit(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // Iterative matcher with one backtrack point (the last `*`): linear in practice.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
            }
            Some(Tok::Lit(c)) if text.get(t).is_some_and(|x| eq(*c, *x)) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    toks.get(p..)
        .is_some_and(|rest| rest.iter().all(|t| *t == Tok::Any))
}

/// Whether `ip` is inside `cidr` (`10.0.0.0/8`, `2001:db8::/32`; a bare address is a /32 or
/// /128). `None` when `cidr` does not parse.
#[must_use]
pub fn cidr_contains(cidr: &str, ip: IpAddr) -> Option<bool> {
    let (addr, len) = match cidr.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u32>().ok()?)),
        None => (cidr, None),
    };
    let net: IpAddr = addr.parse().ok()?;
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => {
            let len = len.unwrap_or(32);
            if len > 32 {
                return None;
            }
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            Some(u32::from(n) & mask == u32::from(i) & mask)
        }
        (IpAddr::V6(n), IpAddr::V6(i)) => {
            let len = len.unwrap_or(128);
            if len > 128 {
                return None;
            }
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            Some(u128::from(n) & mask == u128::from(i) & mask)
        }
        _ => Some(false),
    }
}

/// Percent-decodes `s` (`%41` → `A`; `+` is kept: ALB does not treat it as a space). Invalid
/// escapes are kept as written; bytes that are not UTF-8 are replaced.
#[must_use]
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(v) = hex {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The key/value pairs of a raw query string (`a=1&b&c=`), percent-decoded. A pair without
/// `=` has that text as its key and an empty value.
#[must_use]
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}
