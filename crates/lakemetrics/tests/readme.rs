//! The README's Rust snippets run as doc tests (`ReadmeDoctests` in `lib.rs`);
//! this checks they also compile as shown, so a reader can copy them: no
//! hidden `# ` lines, which rustdoc compiles but the page does not show.

#[test]
fn readme_snippets_have_no_hidden_lines() {
    let readme = include_str!("../../../README.md");
    let mut in_rust = false;
    let mut snippets = 0;
    for (n, line) in readme.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (in_rust, fence) {
            (false, Some(lang)) if lang.trim() == "rust" => {
                in_rust = true;
                snippets += 1;
            }
            (true, Some(_)) => in_rust = false,
            (true, None) => {
                let t = line.trim_start();
                assert!(
                    !(t == "#" || t.starts_with("# ")),
                    "README.md line {}: a hidden doc-test line: {line}",
                    n + 1
                );
            }
            _ => {}
        }
    }
    assert!(snippets >= 3, "only {snippets} Rust snippets found");
    assert!(
        !readme.contains("example.invalid"),
        "a dependency line that cannot work"
    );
}
