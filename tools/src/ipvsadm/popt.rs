//! A tokenizer that walks argv with the same rules as libpopt 1.19 (the
//! option parser ipvsadm 1.31 uses), driven by [`table::OPTIONS`].
//!
//! Why not clap's parser: clap cannot reproduce these popt rules, all of
//! which are visible in ipvsadm's behaviour:
//!
//! * options are returned **one at a time, in argv order**, and ipvsadm acts
//!   on each before reading the next (order-dependent parsing: `-M` before
//!   `-t`, `-r` before `-t`, `-6` after `-f`; the first bad option wins);
//!   clap parses everything first and offers no per-option callback;
//! * the first option must be a command, later commands are "invalid
//!   options" named as typed (``invalid option `-LZ'``), duplicates are
//!   reported with ipvsadm's column names, all with ipvsadm's exit codes;
//! * an optional argument (`-p`) takes the next word only if it does not
//!   start with `-`, while a mandatory argument takes the next word whatever
//!   it is (`-w -1`, `-s --`); clap refuses hyphen-values by default and
//!   its `allow_hyphen_values` is per argument, not "mandatory only";
//! * `-t=addr` (a short option's `=` is skipped), `-Ln=x` ("option does
//!   not take an argument", as `--numeric=x`);
//! * leftovers are collected (non-POSIX permutation, or stop at the first
//!   one with `POSIXLY_CORRECT`), `--` ends options, and an argument
//!   containing `!#:+` is replaced by the next non-option word;
//! * error texts are popt's (`--foo: unknown option`, `-t: missing
//!   argument`), naming the whole argv word that contained the problem.
//!
//! Words are bytes, as popt sees them (an argument in Latin-1 is echoed and
//! used byte for byte). An argument with `!#:+` is not built in memory:
//! [`Arg`] describes it, so that `-s` with thousands of `!#:+` and a long
//! next word takes memory linear in argv (popt builds the whole text, which
//! is quadratic), while options that keep only a prefix (`-s`, `--pe`,
//! `--mcast-interface`, `-b`) cut it without building the rest.
//!
//! clap is still the documented option surface (see [`super::surface`]),
//! used to generate the man pages and shell completions.

use std::borrow::Cow;

use super::table::{self, ArgKind, OptionSpec};

/// popt's `!#:+` mark.
const MARK: &[u8] = b"!#:+";

/// Where `MARK` first occurs in `s`.
fn find_mark(s: &[u8]) -> Option<usize> {
    s.windows(MARK.len()).position(|w| w == MARK)
}

/// An option's argument as popt would give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arg<'a> {
    /// An argv word (or part of one), as it is.
    Plain(&'a [u8]),
    /// `text` with every `!#:+` in it replaced by `insert` (popt's
    /// `expandNextArg`), not built until asked for.
    Expanded {
        /// The argument as typed.
        text: &'a [u8],
        /// The next non-option word, which replaces each mark.
        insert: &'a [u8],
    },
}

impl<'a> Arg<'a> {
    /// The pieces of the argument's text, in order (the inserted word is
    /// the same slice every time).
    pub fn pieces(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let (mut rest, insert) = match *self {
            Arg::Plain(t) => (t, None),
            Arg::Expanded { text, insert } => (text, Some(insert)),
        };
        let mut pending_insert = false;
        std::iter::from_fn(move || {
            if pending_insert {
                pending_insert = false;
                return insert;
            }
            if rest.is_empty() {
                return None;
            }
            match insert.and_then(|_| find_mark(rest)) {
                Some(i) => {
                    let before = &rest[..i];
                    rest = &rest[i + MARK.len()..];
                    pending_insert = true;
                    Some(before)
                }
                None => Some(std::mem::take(&mut rest)),
            }
        })
    }

    /// The argument's first `max` bytes at most (the C tool's fixed-size
    /// copies), built without the rest.
    pub fn prefix(&self, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for piece in self.pieces() {
            let room = max - out.len();
            if piece.len() >= room {
                out.extend_from_slice(&piece[..room]);
                break;
            }
            out.extend_from_slice(piece);
        }
        out
    }

    /// The argument's length in bytes, without building it.
    pub fn len(&self) -> usize {
        match *self {
            Arg::Plain(t) => t.len(),
            Arg::Expanded { text, insert } => {
                let mut marks = 0;
                let mut rest = text;
                while let Some(i) = find_mark(rest) {
                    marks += 1;
                    rest = &rest[i + MARK.len()..];
                }
                text.len() - marks * MARK.len() + marks * insert.len()
            }
        }
    }

    /// Whether the argument is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the argument piece by piece, without building it.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        for piece in self.pieces() {
            w.write_all(piece)?;
        }
        Ok(())
    }

    /// The whole argument.
    pub fn bytes(&self) -> Cow<'a, [u8]> {
        match *self {
            Arg::Plain(t) => Cow::Borrowed(t),
            Arg::Expanded { .. } => Cow::Owned(self.pieces().collect::<Vec<_>>().concat()),
        }
    }
}

/// What popt could not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoptError {
    /// `POPT_ERROR_BADOPT`: unknown option.
    BadOption,
    /// `POPT_ERROR_NOARG`: a mandatory argument is missing.
    NoArgument,
    /// `POPT_ERROR_UNWANTEDARG`: a switch was given an argument.
    UnwantedArgument,
}

impl PoptError {
    /// popt's text for the error (`poptStrerror`).
    pub fn text(self) -> &'static str {
        match self {
            PoptError::BadOption => table::msg::POPT_BADOPT,
            PoptError::NoArgument => table::msg::POPT_NOARG,
            PoptError::UnwantedArgument => table::msg::POPT_UNWANTEDARG,
        }
    }
}

/// One option found in argv.
#[derive(Debug, Clone)]
pub struct Found<'a> {
    /// The option.
    pub spec: &'static OptionSpec,
    /// Its argument (`None` for switches and for `-p` without a value).
    pub arg: Option<Arg<'a>>,
}

/// The tokenizer state (popt's context).
#[derive(Debug)]
pub struct Popt<'a, S> {
    argv: &'a [S],
    /// Index of the next argv word to look at.
    next: usize,
    /// Remaining characters of a short-option cluster: (word, byte offset).
    /// `Some` with an offset at the end of the word is popt's non-NULL empty
    /// `nextCharArg`.
    next_char: Option<(usize, usize)>,
    rest_leftover: bool,
    posix_me_harder: bool,
    leftovers: Vec<&'a [u8]>,
    next_leftover: usize,
    /// Words consumed by a `!#:+` expansion (empty until one happens).
    consumed: Vec<bool>,
}

impl<'a, S: AsRef<[u8]>> Popt<'a, S> {
    /// A tokenizer over `argv` (`argv[0]` is the program name and is
    /// skipped). `posix_me_harder` is popt's reaction to the
    /// `POSIXLY_CORRECT` / `POSIX_ME_HARDER` environment variables: the first
    /// non-option word ends option processing.
    pub fn new(argv: &'a [S], posix_me_harder: bool) -> Self {
        Popt {
            argv,
            next: 1,
            next_char: None,
            rest_leftover: false,
            posix_me_harder,
            leftovers: Vec::new(),
            next_leftover: 0,
            consumed: Vec::new(),
        }
    }

    fn word(&self, i: usize) -> &'a [u8] {
        let argv: &'a [S] = self.argv;
        argv[i].as_ref()
    }

    fn is_consumed(&self, i: usize) -> bool {
        self.consumed.get(i).copied().unwrap_or(false)
    }

    /// The argv word popt blames in messages (`poptBadOption`): the last word
    /// it consumed.
    pub fn bad_option(&self) -> &'a [u8] {
        if self.next > 0 && self.next - 1 < self.argv.len() {
            self.word(self.next - 1)
        } else {
            b""
        }
    }

    /// The next leftover (non-option) word (`poptGetArg`).
    pub fn next_arg(&mut self) -> Option<&'a [u8]> {
        let a = self.leftovers.get(self.next_leftover).copied();
        if a.is_some() {
            self.next_leftover += 1;
        }
        a
    }

    /// The next option (`poptGetNextOpt`): `Ok(None)` at the end of argv.
    pub fn next_opt(&mut self) -> Result<Option<Found<'a>>, PoptError> {
        loop {
            if self.next_char.is_none() && self.next >= self.argv.len() {
                return Ok(None);
            }
            let mut long_arg: Option<&'a [u8]> = None;
            let spec: &'static OptionSpec;
            if let Some((w, off)) = self.next_char.take() {
                // A short option inside a cluster.
                let word = self.word(w);
                let c = word.get(off).copied().unwrap_or(0);
                spec = match table::find_short(c) {
                    Some(s) if c != 0 => s,
                    _ => return Err(PoptError::BadOption),
                };
                // The rest of the cluster, '=' included: a switch followed by
                // '=' is an unwanted argument (`-Ln=1`), while an argument
                // taken from here skips the '=' (`-t=addr`).
                let rest = off + 1;
                if rest < word.len() {
                    self.next_char = Some((w, rest));
                }
            } else {
                if self.is_consumed(self.next) {
                    self.next += 1;
                    continue;
                }
                let w = self.next;
                self.next += 1;
                let word = self.word(w);
                if self.rest_leftover || word.first() != Some(&b'-') || word == b"-" {
                    if self.posix_me_harder {
                        self.rest_leftover = true;
                    }
                    self.leftovers.push(word);
                    continue;
                }
                if word == b"--" {
                    self.rest_leftover = true;
                    continue;
                }
                if let Some(body) = word.strip_prefix(b"--") {
                    let (name, arg) = match body.iter().position(|&b| b == b'=') {
                        Some(i) => (&body[..i], Some(&body[i + 1..])),
                        None => (body, None),
                    };
                    spec = std::str::from_utf8(name)
                        .ok()
                        .and_then(table::find_long)
                        .ok_or(PoptError::BadOption)?;
                    long_arg = arg;
                } else {
                    // Single dash: no option here is allowed with one dash,
                    // so the word is a cluster of short options.
                    self.next_char = Some((w, 1));
                    continue;
                }
            }
            return self.finish(spec, long_arg).map(Some);
        }
    }

    /// Fetches the option's argument, as popt does once the option is known.
    fn finish(
        &mut self,
        spec: &'static OptionSpec,
        long_arg: Option<&'a [u8]>,
    ) -> Result<Found<'a>, PoptError> {
        match spec.arg {
            ArgKind::None => {
                let attached_eq = self
                    .next_char
                    .map(|(w, off)| self.word(w).get(off) == Some(&b'='))
                    .unwrap_or(false);
                if long_arg.is_some() || attached_eq {
                    return Err(PoptError::UnwantedArgument);
                }
                Ok(Found { spec, arg: None })
            }
            ArgKind::Required | ArgKind::Optional => {
                let raw = if let Some(a) = long_arg {
                    Some(a)
                } else if let Some((w, off)) = self.next_char.take() {
                    let word = self.word(w);
                    let skip = usize::from(word.get(off) == Some(&b'='));
                    Some(&word[off + skip..])
                } else if self.next >= self.argv.len() {
                    if spec.arg == ArgKind::Required {
                        return Err(PoptError::NoArgument);
                    }
                    None
                } else {
                    let word = self.word(self.next);
                    if spec.arg == ArgKind::Optional && word.first() == Some(&b'-') {
                        None
                    } else {
                        self.next += 1;
                        Some(word)
                    }
                };
                let arg = raw.map(|a| self.expand_next_arg(a));
                Ok(Found { spec, arg })
            }
        }
    }

    /// popt's `expandNextArg`: every `!#:+` in an argument is replaced by the
    /// next non-option word (found once, at the first mark, and then
    /// consumed); without one, the text stays as it is.
    fn expand_next_arg(&mut self, s: &'a [u8]) -> Arg<'a> {
        if find_mark(s).is_none() {
            return Arg::Plain(s);
        }
        match self.find_next_arg() {
            Some(insert) => Arg::Expanded { text: s, insert },
            None => Arg::Plain(s),
        }
    }

    fn find_next_arg(&mut self) -> Option<&'a [u8]> {
        for i in self.next..self.argv.len() {
            if self.is_consumed(i) || self.word(i).first() == Some(&b'-') {
                continue;
            }
            if self.consumed.is_empty() {
                self.consumed = vec![false; self.argv.len()];
            }
            self.consumed[i] = true;
            return Some(self.word(i));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvsadm::table::OptId;

    fn argv(words: &[&str]) -> Vec<String> {
        std::iter::once("ipvsadm")
            .chain(words.iter().copied())
            .map(String::from)
            .collect()
    }

    type Parsed = (
        Vec<(OptId, Option<String>)>,
        Option<(PoptError, String)>,
        Vec<String>,
    );

    fn all(words: &[&str]) -> Parsed {
        let a = argv(words);
        let mut p = Popt::new(&a, false);
        let mut out = Vec::new();
        let err = loop {
            match p.next_opt() {
                Ok(Some(f)) => out.push((
                    f.spec.id,
                    f.arg
                        .map(|a| String::from_utf8(a.bytes().into_owned()).unwrap()),
                )),
                Ok(None) => break None,
                Err(e) => break Some((e, String::from_utf8(p.bad_option().to_vec()).unwrap())),
            }
        };
        let mut left = Vec::new();
        while let Some(x) = p.next_arg() {
            left.push(String::from_utf8(x.to_vec()).unwrap());
        }
        (out, err, left)
    }

    #[test]
    fn clusters_and_attached_values() {
        let (o, e, _) = all(&["-Lnt", "1.2.3.4:80"]);
        assert!(e.is_none());
        assert_eq!(
            o,
            vec![
                (OptId::List, None),
                (OptId::Numeric, None),
                (OptId::TcpService, Some("1.2.3.4:80".into()))
            ]
        );
        let (o, _, _) = all(&["-Ltn", "x"]);
        assert_eq!(o[1], (OptId::TcpService, Some("n".into())));
        let (o, _, _) = all(&["-A", "-t=1.2.3.4:80", "-p100", "--scheduler=rr"]);
        assert_eq!(o[1].1.as_deref(), Some("1.2.3.4:80"));
        assert_eq!(o[2].1.as_deref(), Some("100"));
        assert_eq!(o[3].1.as_deref(), Some("rr"));
    }

    #[test]
    fn optional_and_mandatory_values() {
        let (o, _, _) = all(&["-A", "-p", "-w", "-1"]);
        assert_eq!(o[1], (OptId::Persistent, None));
        assert_eq!(o[2], (OptId::Weight, Some("-1".into())));
        let (o, _, _) = all(&["-A", "-p", "600"]);
        assert_eq!(o[1], (OptId::Persistent, Some("600".into())));
        let (o, _, _) = all(&["-A", "-p"]);
        assert_eq!(o[1], (OptId::Persistent, None));
    }

    #[test]
    fn errors_name_the_word() {
        let (_, e, _) = all(&["-L", "--foo=1"]);
        assert_eq!(e, Some((PoptError::BadOption, "--foo=1".into())));
        let (_, e, _) = all(&["-A", "-t"]);
        assert_eq!(e, Some((PoptError::NoArgument, "-t".into())));
        let (_, e, _) = all(&["-L", "--numeric=1"]);
        assert_eq!(e, Some((PoptError::UnwantedArgument, "--numeric=1".into())));
        // Verified against the oracle: a switch followed by '=' in a cluster.
        let (_, e, _) = all(&["-Ln=1"]);
        assert_eq!(e, Some((PoptError::UnwantedArgument, "-Ln=1".into())));
        let (o, e, _) = all(&["-L=n"]);
        assert_eq!(o, vec![]);
        assert_eq!(e, Some((PoptError::UnwantedArgument, "-L=n".into())));
        let (_, e, _) = all(&["-L", "--lis"]);
        assert_eq!(e, Some((PoptError::BadOption, "--lis".into())));
    }

    #[test]
    fn leftovers_and_double_dash() {
        let (o, _, l) = all(&["foo", "-A", "--", "-t", "bar"]);
        assert_eq!(o, vec![(OptId::AddService, None)]);
        assert_eq!(l, vec!["foo", "-t", "bar"]);
        let (_, _, l) = all(&["--set", "1", "-", "3"]);
        assert_eq!(l, vec!["1", "-", "3"]);
    }

    #[test]
    fn posix_me_harder_stops_at_first_word() {
        let a = argv(&["-L", "x", "-n"]);
        let mut p = Popt::new(&a, true);
        assert_eq!(p.next_opt().unwrap().unwrap().spec.id, OptId::List);
        assert!(p.next_opt().unwrap().is_none());
        assert_eq!(p.next_arg(), Some(&b"x"[..]));
        assert_eq!(p.next_arg(), Some(&b"-n"[..]));
    }

    #[test]
    fn bang_hash_expansion() {
        let (o, _, l) = all(&["-A", "-s", "a!#:+b", "-t", "x", "rr"]);
        assert_eq!(o[1], (OptId::Scheduler, Some("axb".into())));
        assert_eq!(o[2], (OptId::TcpService, Some("x".into())));
        assert_eq!(l, vec!["rr"]);
    }
}
