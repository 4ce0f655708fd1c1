//! The man pages in `man/` and the shell completions in `completions/` are
//! generated from the clap surface (`ipvs_tools::ipvsadm::surface`). This test
//! regenerates them and fails if the committed files differ; run it with
//! `UPDATE_GENERATED=1` to rewrite them.

use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::Shell;
use ipvs_tools::ipvsadm::surface;

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
    let mut files = Vec::new();
    for cmd in [
        surface::command(),
        surface::save_command(),
        surface::restore_command(),
    ] {
        let name = cmd.get_name().to_string();
        files.push((Path::new("man").join(format!("{name}.8")), man(cmd.clone())));
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
    }
    files
}

#[test]
fn surfaces_are_valid_clap_commands() {
    surface::command().debug_assert();
    surface::save_command().debug_assert();
    surface::restore_command().debug_assert();
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
        "generated files are missing or stale: {stale:?}; run `UPDATE_GENERATED=1 cargo test --test cli_generated`"
    );
}
