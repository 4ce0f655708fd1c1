//! `lvsctl(8)` (and `lvsctl-apply(8)`, `lvsctl-status(8)`) in `man/` and lvsctl's shell completions in `completions/`
//! are generated from `ipvs_tools::lvsctl_surface::command()`, which must
//! name the same subcommands and options as `lvsctl`'s usage text
//! (`ipvs_tools::lvsctl::USAGE`, what the parser prints). This test checks
//! both and fails if the committed files differ; rewrite them with
//!
//! ```sh
//! UPDATE_GENERATED=1 cargo test -p ipvs-tools --test lvsctl_generated
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::Shell;
use ipvs_tools::{lvsctl, lvsctl_surface};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn man(cmd: Command) -> Vec<u8> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("8")
        .manual("System Manager's Manual")
        .source(format!("ipvs-rs {}", env!("CARGO_PKG_VERSION")))
        .render(&mut out)
        .expect("render man page");
    out
}

fn completion(shell: Shell, mut cmd: Command) -> Vec<u8> {
    let name = cmd.get_name().to_string();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, name, &mut out);
    out
}

fn generated() -> Vec<(PathBuf, Vec<u8>)> {
    let mut cmd = lvsctl_surface::command();
    cmd.build();
    let mut files = vec![(Path::new("man").join("lvsctl.8"), man(cmd.clone()))];
    // One page per subcommand, as lvsctl(8) lists them (lvsctl-apply(8)).
    for sub in cmd.get_subcommands() {
        let page = sub.get_display_name().unwrap().to_string();
        files.push((Path::new("man").join(format!("{page}.8")), man(sub.clone())));
    }
    for (shell, file) in [
        (Shell::Bash, "lvsctl.bash"),
        (Shell::Zsh, "_lvsctl"),
        (Shell::Fish, "lvsctl.fish"),
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
        "generated files are missing or stale: {stale:?}; run `UPDATE_GENERATED=1 cargo test -p ipvs-tools --test lvsctl_generated`"
    );
}

/// Subcommand -> its long options, from the usage text: a line
/// `  lvsctl NAME ...` starts a subcommand; `--word` anywhere in its lines
/// is one of its options.
fn usage_surface() -> Vec<(String, BTreeSet<String>)> {
    let mut out: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in lvsctl::USAGE.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("lvsctl ") {
            // `[--socket PATH]` is the global option before the subcommand.
            let rest = rest.strip_prefix("[--socket PATH] ").unwrap_or(rest);
            let name = rest.split_whitespace().next().unwrap_or("");
            if name.starts_with('-') {
                out.push((String::new(), BTreeSet::new()));
                continue;
            }
            out.push((name.to_string(), BTreeSet::new()));
        }
        if let Some((_, opts)) = out.last_mut() {
            for w in t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
                if let Some(o) = w.strip_prefix("--") {
                    // --socket is global; --control is lvsd's, named in prose.
                    if !o.is_empty() && !matches!(o, "help" | "socket" | "control") {
                        opts.insert(o.to_string());
                    }
                }
            }
        }
    }
    out.retain(|(n, _)| !n.is_empty());
    out
}

#[test]
fn the_surface_names_what_the_usage_names() {
    let cmd = lvsctl_surface::command();
    cmd.clone().debug_assert();
    let usage = usage_surface();
    assert!(usage.len() >= 2, "{usage:?}");
    let in_usage: BTreeSet<&str> = usage.iter().map(|(n, _)| n.as_str()).collect();
    let in_surface: BTreeSet<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
    assert!(
        lvsctl::USAGE.contains("[--socket PATH]")
            == cmd.get_arguments().any(|a| a.get_long() == Some("socket")),
        "lvsctl's USAGE and lvsctl_surface disagree on the global --socket"
    );
    assert_eq!(
        in_usage, in_surface,
        "lvsctl's USAGE and lvsctl_surface disagree on the subcommands"
    );
    for (name, opts) in &usage {
        let sub = cmd.find_subcommand(name).unwrap();
        let longs: BTreeSet<String> = sub
            .get_arguments()
            .filter_map(|a| a.get_long().map(str::to_string))
            .filter(|l| l != "help")
            .collect();
        // Options the usage text names only as short ones (-v) are not
        // in its long list; every long option must be in both.
        let usage_longs: BTreeSet<String> = opts.clone();
        for o in &usage_longs {
            assert!(
                longs.contains(o),
                "lvsctl {name}: --{o} is not in the surface"
            );
        }
        for o in &longs {
            let short = sub
                .get_arguments()
                .find(|a| a.get_long() == Some(o))
                .and_then(|a| a.get_short());
            let in_usage = usage_longs.contains(o)
                || short.is_some_and(|s| {
                    lvsctl::USAGE.contains(&format!("-{s} "))
                        || lvsctl::USAGE.contains(&format!("[-{s}]"))
                });
            assert!(in_usage, "lvsctl {name}: --{o} is not in the usage text");
        }
    }
}
