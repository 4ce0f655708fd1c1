//! `ipvsadm-save` and `ipvsadm-restore`: the behaviour of ipvsadm's two
//! wrapper scripts, run in-process instead of through a shell.
//!
//! * `ipvsadm-save [-n]` is `ipvsadm -S [-n]`; any other argument starting
//!   with `-` prints a two-line usage to stderr and exits 1; other words are
//!   ignored.
//! * `ipvsadm-restore` reads stdin, drops lines starting with `#` (`grep -v
//!   '^#'`), runs `ipvsadm -C`, then feeds the rest to `ipvsadm -R` (as
//!   `echo "$(...)"` does: trailing newlines trimmed, one added); its status
//!   is that of `ipvsadm -R`. The input is filtered as a stream and spooled
//!   to an unnamed temporary file, so large inputs do not sit in memory.

use std::io::{self, BufRead, Read, Write};

use super::run::{posix_me_harder, KernelBackend, Session};
use super::sys;
use super::table::msg;

/// The program name the wrappers run `ipvsadm` under.
const IPVSADM: &str = "ipvsadm";

/// What `ipvsadm-save`'s arguments ask for: `Ok(numeric)` or the usage
/// text (for stderr, exit 1).
pub fn save_arguments<S: AsRef<[u8]>>(program: &[u8], args: &[S]) -> Result<bool, Vec<u8>> {
    let mut numeric = false;
    for a in args {
        let a = a.as_ref();
        if a == b"-n" {
            numeric = true;
        } else if a.first() == Some(&b'-') {
            let base = program.rsplit(|&b| b == b'/').next().unwrap_or(program);
            return Err(msg::save_usage(base));
        }
    }
    Ok(numeric)
}

/// What `ipvsadm-restore` feeds to `ipvsadm -R`: the input without lines
/// that start with `#`, trailing newlines removed and one newline added
/// (`echo "$(grep -v '^#')"` under bash), for a whole input in memory.
pub fn restore_input(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut filter = RestoreFilter::new(raw);
    filter
        .read_to_end(&mut out)
        .expect("reading from memory cannot fail");
    out
}

/// `echo "$(grep -v '^#')"` as a stream: lines starting with `#` dropped,
/// NUL bytes dropped (command substitution ignores them), trailing newlines
/// dropped and one added by `echo`, and bash's `echo` taking an input that
/// is a single word like `-n` or `-eE` as its options. Only one line is held
/// in memory (plus a count of pending empty lines), so `ipvsadm-restore`
/// streams large inputs into `ipvsadm -R` like any other.
#[derive(Debug)]
pub struct RestoreFilter<R> {
    input: R,
    /// Bytes ready to be read.
    ready: Vec<u8>,
    pos: usize,
    /// Newlines not yet emitted: they count only if content follows.
    pending_newlines: usize,
    /// A first line that looks like echo options, held back until it is
    /// known whether anything follows it.
    held: Option<Vec<u8>>,
    emitted: bool,
    done: bool,
    /// The input failed: `grep` reports it and treats it as the end.
    read_error: Option<io::Error>,
}

impl<R: BufRead> RestoreFilter<R> {
    /// A filter over `input`.
    pub fn new(input: R) -> Self {
        RestoreFilter {
            input,
            ready: Vec::new(),
            pos: 0,
            pending_newlines: 0,
            held: None,
            emitted: false,
            done: false,
            read_error: None,
        }
    }

    /// What GNU grep prints for a read error of its input (it then ends
    /// the input there, keeping what it read, and the script goes on):
    /// `grep: (standard input): Is a directory`.
    pub fn read_error_message(&self) -> Option<Vec<u8>> {
        self.read_error.as_ref().map(|e| {
            let text = match e.raw_os_error() {
                Some(n) => ipvs::strerror(n),
                None => e.to_string(),
            };
            format!("grep: (standard input): {text}").into_bytes()
        })
    }

    fn is_echo_option(word: &[u8]) -> bool {
        word.len() > 1
            && word[0] == b'-'
            && word[1..].iter().all(|b| matches!(b, b'n' | b'e' | b'E'))
    }

    fn emit_line(&mut self, line: Vec<u8>) {
        if let Some(held) = self.held.take() {
            self.ready.extend_from_slice(&held);
            self.pending_newlines = 1;
        }
        if !self.emitted && self.pending_newlines == 0 && Self::is_echo_option(&line) {
            self.held = Some(line);
            self.emitted = true;
            return;
        }
        self.ready
            .extend(std::iter::repeat_n(b'\n', self.pending_newlines));
        self.ready.extend_from_slice(&line);
        self.pending_newlines = 1;
        self.emitted = true;
    }

    /// Produces the next bytes into `ready`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        self.ready.clear();
        self.pos = 0;
        while self.ready.is_empty() {
            if self.done {
                return Ok(false);
            }
            let mut line = Vec::new();
            // After a read error the input has ended (grep reports the
            // error and stops reading there).
            let n = match self.read_error {
                Some(_) => 0,
                None => match self.input.read_until(b'\n', &mut line) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.read_error = Some(e);
                        line.len()
                    }
                },
            };
            if n == 0 && line.is_empty() {
                self.done = true;
                match self.held.take() {
                    // The whole input was one echo-option word.
                    Some(word) if !word.contains(&b'n') => self.ready.push(b'\n'),
                    Some(_) => {}
                    None => self.ready.push(b'\n'),
                }
                continue;
            }
            if line.first() == Some(&b'#') {
                continue;
            }
            if line.last() == Some(&b'\n') {
                line.pop();
            }
            line.retain(|&b| b != 0);
            if line.is_empty() {
                self.pending_newlines += 1;
            } else {
                self.emit_line(line);
            }
        }
        Ok(true)
    }
}

impl<R: BufRead> Read for RestoreFilter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for RestoreFilter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.ready.len() && !self.refill()? {
            return Ok(&[]);
        }
        Ok(&self.ready[self.pos..])
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
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
        IPVSADM.as_bytes(),
        &mut backend,
        &resolver,
        posix_me_harder(),
        &mut *out,
        &mut err,
    );
    session.run(&argv, stdin)
}

/// The program name and the arguments after it.
fn split_program(argv: Vec<Vec<u8>>) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut all = argv.into_iter();
    let program = all.next().unwrap_or_default();
    (program, all.collect())
}

/// `ipvsadm-save`'s `main`, on the command line `argv` (program name
/// first); the binary calls it through [`super::entry`].
pub fn save_main(argv: Vec<Vec<u8>>) -> i32 {
    let (program, args) = split_program(argv);
    match save_arguments(&program, &args) {
        Err(usage) => {
            super::stdio::eprintln_bytes(&mut io::stderr(), &usage);
            1
        }
        Ok(numeric) => {
            let cmd: &[&str] = if numeric { &["-S", "-n"] } else { &["-S"] };
            run_ipvsadm(cmd, &mut io::empty())
        }
    }
}

/// `ipvsadm-restore`'s `main` (it takes no arguments); the binary calls
/// it through [`super::entry`].
pub fn restore_main(_argv: Vec<Vec<u8>>) -> i32 {
    // Like the script, read all of the input before the table is cleared
    // (`ipvsadm-save | ipvsadm-restore` must see the old table), but spool
    // it to an unnamed temporary file rather than holding it in memory.
    let stdin = io::stdin();
    let mut filtered = RestoreFilter::new(stdin.lock());
    let spooled = spool(&mut filtered);
    if let Some(message) = filtered.read_error_message() {
        super::stdio::eprintln_bytes(&mut io::stderr(), &message);
    }
    let mut input = match spooled {
        Ok(i) => i,
        // Only the temporary file can fail here (the input's errors end
        // it): no table is cleared without its new contents.
        Err(e) => {
            let _ = writeln!(io::stderr(), "ipvsadm-restore: {e}");
            return 1;
        }
    };
    run_ipvsadm(&["-C"], &mut io::empty());
    run_ipvsadm(&["-R"], &mut *input)
}

/// All of `input`, in an unnamed temporary file (or in memory when no
/// temporary file can be made), ready to be read from the start.
fn spool(input: &mut dyn Read) -> io::Result<Box<dyn BufRead>> {
    use std::io::Seek;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = std::env::temp_dir();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(&dir);
    match file {
        Ok(mut f) => {
            io::copy(input, &mut f)?;
            f.seek(io::SeekFrom::Start(0))?;
            Ok(Box::new(io::BufReader::new(f)))
        }
        Err(_) => {
            let mut all = Vec::new();
            input.read_to_end(&mut all)?;
            Ok(Box::new(io::Cursor::new(all)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_args() {
        let a = |v: &[&str]| save_arguments(b"/usr/sbin/ipvsadm-save", v);
        assert_eq!(a(&[]), Ok(false));
        assert_eq!(a(&["-n", "foo"]), Ok(true));
        assert_eq!(
            a(&["-x"]),
            Err(b"ipvsadm-save: Script to save the IPVS table to stdout.\n   With the -n option, prints out the table in numeric format.".to_vec())
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
        assert_eq!(restore_input(b"-e\n\n"), b"\n");
        assert_eq!(restore_input(b"#x\n-neE"), b"");
        assert_eq!(restore_input(b"-n\n-C\n"), b"-n\n-C\n");
        assert_eq!(restore_input(b"\n\n-C\n\n#\n\n"), b"\n\n-C\n");
        assert_eq!(restore_input(b"-C\0\n\0\n-Z"), b"-C\n\n-Z\n");
        assert_eq!(restore_input(b"-n -A\n"), b"-n -A\n");
        assert_eq!(restore_input(b"\n-n\n"), b"\n-n\n");
    }

    /// A read error ends the input as grep ends it: what came before is
    /// kept (a partial last line included), and the message is grep's.
    #[test]
    fn restore_filter_read_error() {
        struct ThenFails(&'static [u8]);
        impl Read for ThenFails {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::from_raw_os_error(libc::EISDIR));
                }
                let n = self.0.len().min(buf.len()).min(5);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut f = RestoreFilter::new(io::BufReader::new(ThenFails(b"#c\n-A -t 1.2.3.4:80\n-C")));
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"-A -t 1.2.3.4:80\n-C\n");
        assert_eq!(
            f.read_error_message().unwrap(),
            b"grep: (standard input): Is a directory"
        );
        let dir = std::fs::File::open("/").unwrap();
        let mut f = RestoreFilter::new(io::BufReader::new(dir));
        let mut out = Vec::new();
        f.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"\n");
        assert!(f.read_error_message().is_some());
    }
}
