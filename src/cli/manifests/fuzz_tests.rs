//! A property-test harness for the manifest reader (issue 16): the YAML files of `examples/`,
//! mutated where hand-edited manifests go wrong (indentation, quotes, anchors and aliases,
//! document separators, flow collections, tabs, stray characters, cut lines), are read as
//! `plan -f` reads them. The reader never panics; a file it cannot use at all is one error, and
//! every error it reports is non-empty and short enough to read (values are truncated).
//! Fixed seed and 256 cases in the test command; `PROPTEST_CASES=20000` for a longer run. The
//! annotation parsers get the same treatment in `core/tests/fuzz_translation.rs`.
use std::cell::Cell;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::load_manifests;

/// Every `.yaml` file under `examples/`, as text.
fn seeds() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut files,
    );
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// What a hand edit inserts.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "<<: *a\n",
    "!!str ",
    "!!int ",
    "'",
    "\"",
    "\t",
    "  ",
    "\n",
    "---\n",
    "...\n",
    "#",
    "kind: List\n",
    "items:\n",
    "10",
    "true",
    "null",
    "~",
    "é",
    "\u{feff}",
    "\\",
    "%YAML 1.2\n",
    "? ",
    "|\n",
    ">-\n",
    "\u{0}",
    "0x1F",
    "1e400",
    "-1",
    "70000",
];

#[derive(Clone, Debug)]
enum Edit {
    /// Insert a token at a character position (a fraction of the text's length).
    Insert(usize, usize),
    /// Delete a range of characters.
    Delete(usize, usize),
    /// Duplicate a line.
    Duplicate(usize),
    /// Indent or dedent a line by a number of spaces.
    Indent(usize, i8),
    /// Cut the text at a position.
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Edit::Insert(at, t)),
        (any::<usize>(), 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
        any::<usize>().prop_map(Edit::Duplicate),
        (any::<usize>(), -4i8..=4).prop_map(|(l, n)| Edit::Indent(l, n)),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let len = chars.len().max(1);
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    match *e {
        Edit::Insert(at, t) => {
            let at = at % len;
            let mut s: String = chars[..at.min(chars.len())].iter().collect();
            s.push_str(TOKENS[t]);
            s.extend(&chars[at.min(chars.len())..]);
            s
        }
        Edit::Delete(at, n) => {
            let at = (at % len).min(chars.len());
            let end = (at + n).min(chars.len());
            chars[..at].iter().chain(&chars[end..]).collect()
        }
        Edit::Duplicate(l) if !lines.is_empty() => {
            let l = l % lines.len();
            let line = lines[l].clone();
            lines.insert(l, line);
            lines.join("\n")
        }
        Edit::Indent(l, n) if !lines.is_empty() => {
            let l = l % lines.len();
            let line = &mut lines[l];
            if n >= 0 {
                line.insert_str(0, &" ".repeat(n.unsigned_abs().into()));
            } else {
                let strip = line
                    .chars()
                    .take(n.unsigned_abs().into())
                    .take_while(|c| *c == ' ')
                    .count();
                line.drain(..strip);
            }
            lines.join("\n")
        }
        Edit::Truncate(at) => chars[..(at % len).min(chars.len())].iter().collect(),
        Edit::Duplicate(_) | Edit::Indent(..) => text.to_owned(),
    }
}

/// Longest message a user should have to read for one object (values in messages are
/// truncated; the YAML library's own wording is replaced).
const MAX_MESSAGE: usize = 2_000;

#[test]
fn mutated_examples_are_read_without_panic_and_every_error_is_short_and_says_something() {
    let seeds = seeds();
    assert!(
        seeds.len() >= 10,
        "examples/ holds {} YAML files",
        seeds.len()
    );
    let dir = std::env::temp_dir().join(format!("manifest-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mutated.yaml");
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let (read_whole, with_errors) = (Cell::new(0u32), Cell::new(0u32));
    let result = runner.run(
        &(0..seeds.len(), prop::collection::vec(edit(), 1..5)),
        |(seed, edits)| {
            let text = edits.iter().fold(seeds[seed].clone(), |t, e| apply(&t, e));
            std::fs::write(&file, &text).unwrap();
            match load_manifests(std::slice::from_ref(&file), false) {
                Ok(m) => {
                    if m.errors.is_empty() {
                        read_whole.set(read_whole.get() + 1);
                    } else {
                        with_errors.set(with_errors.get() + 1);
                    }
                    for e in &m.errors {
                        prop_assert!(!e.message.trim().is_empty(), "empty error for {text:?}");
                        prop_assert!(
                            e.message.len() <= MAX_MESSAGE,
                            "{} characters: {}",
                            e.message.len(),
                            e.message
                        );
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(!message.trim().is_empty());
                    prop_assert!(
                        message.len() <= MAX_MESSAGE,
                        "{} characters: {message}",
                        message.len()
                    );
                }
            }
            Ok(())
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        panic!("{e}");
    }
    // The mutations reach both sides: some files still read whole, some give errors.
    let (whole, errors) = (read_whole.get(), with_errors.get());
    assert!(
        whole > 0 && errors > 0,
        "{whole} whole, {errors} with errors"
    );
}
