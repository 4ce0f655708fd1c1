//! `lvsd(8)` in `man/` and the shell completions in `completions/` are
//! generated from lvsd's clap definition (`ipvs_director::lvsd_cli`, the
//! parser the binary uses) and its manual sections
//! (`lvsd_cli::MAN_SECTIONS`, `lvsd_cli::KEYWORDS`). This test regenerates
//! them and fails if the committed files differ; run it with
//! `UPDATE_GENERATED=1` to rewrite them:
//!
//! ```sh
//! UPDATE_GENERATED=1 cargo test -p ipvs-director --test cli_generated
//! ```

use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::Shell;
use ipvs_director::lvsd_cli::{self, ManSection, KEYWORDS, MAN_SECTIONS};
use roff::{bold, roman, Roff};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn section(r: &mut Roff, s: &ManSection) {
    r.control("SH", [s.title]);
    for (i, p) in s.paragraphs.iter().enumerate() {
        if let Some(item) = p.strip_prefix("- ") {
            r.control("IP", ["\\(bu", "2"]);
            r.text([roman(item)]);
        } else if let Some(example) = p.strip_prefix("$ ") {
            r.control("PP", []).control("nf", []);
            r.text([bold(example)]);
            r.control("fi", []);
        } else {
            if i > 0 {
                r.control("PP", []);
            }
            r.text([roman(*p)]);
        }
    }
    if s.title == "CONFIGURATION" {
        for (block, words) in KEYWORDS {
            r.control("TP", []);
            r.text([bold(*block)]);
            r.text([roman(words.join(", "))]);
        }
    }
}

fn man(cmd: Command) -> Vec<u8> {
    let m = clap_mangen::Man::new(cmd)
        .section("8")
        .manual("System Manager's Manual")
        .source(format!("ipvs-rs {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    m.render_title(&mut out).unwrap();
    m.render_name_section(&mut out).unwrap();
    m.render_synopsis_section(&mut out).unwrap();
    m.render_description_section(&mut out).unwrap();
    m.render_options_section(&mut out).unwrap();
    let mut r = Roff::new();
    for s in MAN_SECTIONS {
        section(&mut r, s);
    }
    r.to_writer(&mut out).unwrap();
    m.render_version_section(&mut out).unwrap();
    out
}

fn completion(shell: Shell, mut cmd: Command) -> Vec<u8> {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let cmd = lvsd_cli::command();
    let name = cmd.get_name().to_string();
    let mut files = vec![(Path::new("man").join(format!("{name}.8")), man(cmd.clone()))];
    for (shell, file) in [
        (Shell::Bash, format!("{name}.bash")),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        files.push((
            Path::new("completions").join(file),
            completion(shell, cmd.clone()),
        ));
    }
    files
}

#[test]
fn generated_files_are_up_to_date() {
    let update = std::env::var_os("UPDATE_GENERATED").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (rel, content) in generated() {
        let path = root().join(&rel);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &content).unwrap();
            continue;
        }
        match std::fs::read(&path) {
            Ok(existing) if existing == content => {}
            _ => stale.push(rel.display().to_string()),
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are missing or stale: {stale:?}; run `UPDATE_GENERATED=1 cargo test -p ipvs-director --test cli_generated`"
    );
}

/// Every keyword the manual lists is one the keepalived front end handles
/// (named as a string in its parser).
#[test]
fn the_manual_lists_keywords_the_parser_reads() {
    let mut source = String::new();
    let dir = root().join("src/keepalived");
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                source += &std::fs::read_to_string(&p).unwrap();
            }
        }
    }
    let mut missing = Vec::new();
    for (_, words) in KEYWORDS {
        for w in *words {
            let named = source.contains(&format!("\"{w}\""))
                || (w.starts_with("lvsd_")
                    && source.contains(&format!("const {}: &str = \"{w}\"", {
                        if *w == "lvsd_rise" {
                            "RISE"
                        } else {
                            "DRAIN_TIMEOUT"
                        }
                    })));
            if !named {
                missing.push(*w);
            }
        }
    }
    assert!(missing.is_empty(), "not in the parser: {missing:?}");
}
