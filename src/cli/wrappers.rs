//! `ipvsadm-save` and `ipvsadm-restore`: the behaviour of ipvsadm's two
//! wrapper scripts, run in-process instead of through a shell.
//!
//! * `ipvsadm-save [-n]` is `ipvsadm -S [-n]`; any other argument starting
//!   with `-` prints a two-line usage to stderr and exits 1; other words are
//!   ignored.
//! * `ipvsadm-restore` reads stdin, drops lines starting with `#` (`grep -v
//!   '^#'`), runs `ipvsadm -C`, then feeds the rest to `ipvsadm -R` (as
//!   `echo "$(...)"` does: trailing newlines trimmed, one added); its status
//!   is that of `ipvsadm -R`.

use std::io::{self, Read, Write};

use super::run::{posix_me_harder, KernelBackend, Session};
use super::sys;
use super::table::msg;

/// The program name the wrappers run `ipvsadm` under.
const IPVSADM: &str = "ipvsadm";

/// What `ipvsadm-save`'s arguments ask for: `Ok(numeric)` or the usage
/// text (for stderr, exit 1).
pub fn save_arguments(program: &str, args: &[String]) -> Result<bool, String> {
    let mut numeric = false;
    for a in args {
        if a == "-n" {
            numeric = true;
        } else if a.starts_with('-') {
            let base = program.rsplit('/').next().unwrap_or(program);
            return Err(msg::save_usage(base));
        }
    }
    Ok(numeric)
}

/// What `ipvsadm-restore` feeds to `ipvsadm -R`: the input without lines
/// that start with `#`, trailing newlines removed and one newline added
/// (`echo "$(grep -v '^#')"` under bash).
pub fn restore_input(raw: &[u8]) -> Vec<u8> {
    let mut kept = Vec::with_capacity(raw.len());
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'#') {
            continue;
        }
        kept.extend_from_slice(line);
        if line.last() != Some(&b'\n') {
            kept.push(b'\n');
        }
    }
    // Command substitution drops NUL bytes and every trailing newline.
    kept.retain(|&b| b != 0);
    while kept.last() == Some(&b'\n') {
        kept.pop();
    }
    // bash's echo takes a lone "-n"/"-e"/"-E" style word as options.
    let is_echo_option = kept.len() > 1
        && kept[0] == b'-'
        && kept[1..].iter().all(|b| matches!(b, b'n' | b'e' | b'E'));
    if is_echo_option {
        return if kept.contains(&b'n') {
            Vec::new()
        } else {
            b"\n".to_vec()
        };
    }
    kept.push(b'\n');
    kept
}

fn run_ipvsadm(args: &[&str], stdin: &mut dyn io::BufRead) -> i32 {
    let argv: Vec<String> = std::iter::once(IPVSADM)
        .chain(args.iter().copied())
        .map(String::from)
        .collect();
    let mut backend = KernelBackend::default();
    let resolver = sys::SystemResolver;
    let mut out = super::run::stdout();
    let mut err = io::stderr();
    let mut session = Session::new(
        IPVSADM,
        &mut backend,
        &resolver,
        posix_me_harder(),
        &mut *out,
        &mut err,
    );
    session.run(&argv, stdin)
}

fn args() -> (String, Vec<String>) {
    let mut all = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let program = all.next().unwrap_or_default();
    (program, all.collect())
}

/// `ipvsadm-save`'s `main`.
pub fn save_main() -> i32 {
    sys::default_sigpipe();
    let (program, args) = args();
    match save_arguments(&program, &args) {
        Err(usage) => {
            let _ = writeln!(io::stderr(), "{usage}");
            1
        }
        Ok(numeric) => {
            let cmd: &[&str] = if numeric { &["-S", "-n"] } else { &["-S"] };
            run_ipvsadm(cmd, &mut io::empty())
        }
    }
}

/// `ipvsadm-restore`'s `main`.
pub fn restore_main() -> i32 {
    sys::default_sigpipe();
    let mut raw = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut raw) {
        let _ = writeln!(io::stderr(), "ipvsadm-restore: {e}");
        return 1;
    }
    let input = restore_input(&raw);
    run_ipvsadm(&["-C"], &mut io::empty());
    run_ipvsadm(&["-R"], &mut input.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_args() {
        let a = |v: &[&str]| {
            save_arguments(
                "/usr/sbin/ipvsadm-save",
                &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(a(&[]), Ok(false));
        assert_eq!(a(&["-n", "foo"]), Ok(true));
        assert_eq!(
            a(&["-x"]),
            Err("ipvsadm-save: Script to save the IPVS table to stdout.\n   With the -n option, prints out the table in numeric format.".into())
        );
    }

    #[test]
    fn restore_filtering() {
        assert_eq!(
            restore_input(b"# x\n-A -t 1.2.3.4:80\n #y\n-C\n\n\n"),
            b"-A -t 1.2.3.4:80\n #y\n-C\n"
        );
        assert_eq!(restore_input(b"-C  "), b"-C  \n");
        assert_eq!(restore_input(b""), b"\n");
        assert_eq!(restore_input(b"-n\n"), b"");
    }
}
