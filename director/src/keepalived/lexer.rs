//! Reading keepalived's configuration text: files and `include`, comments,
//! quoting, braces; the result is a tree of statements ([`Node`]).
//!
//! The reading follows keepalived's `read_line` and `alloc_strvec`: one
//! statement per line; `#` and `!` start a comment outside double quotes
//! (`\#` and `\!` are the characters themselves); every `{` and `}` outside quotes stands as a
//! line of its own, so a brace may close a line or open the next one; a
//! double-quoted string is one word without its quotes. `include PATTERN`
//! (anywhere, even inside a block) reads the files the glob matches, in
//! sorted order, relative to the directory of the file that includes them.

use std::borrow::Cow;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ConfigError, ErrorKind, Warning, WarningKind};

/// Where a statement starts: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Loc {
    pub file: Arc<Path>,
    pub line: u32,
    /// Position in reading order (lines of all files, includes inlined).
    pub seq: u64,
}

/// One statement: its words (the keyword first) and its `{ }` block, if any.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub loc: Loc,
    pub words: Vec<String>,
    pub block: Option<Vec<Node>>,
}

impl Node {
    pub fn keyword(&self) -> &str {
        &self.words[0]
    }
}

/// A logical line: words, or one brace.
enum Item {
    Words(Loc, Vec<String>),
    Open(Loc),
    Close(Loc),
}

/// Collects what reading finds.
#[derive(Default)]
pub(crate) struct Diag {
    /// Errors with the reading position of their statement.
    pub errors: Vec<(u64, ConfigError)>,
    /// Warnings with the reading position of their statement.
    pub warnings: Vec<(u64, Warning)>,
    next_seq: u64,
}

impl Diag {
    /// Errors and warnings in reading order (stable for one statement).
    pub fn into_sorted(mut self) -> (Vec<ConfigError>, Vec<Warning>) {
        self.errors.sort_by_key(|(seq, _)| *seq);
        self.warnings.sort_by_key(|(seq, _)| *seq);
        (
            self.errors.into_iter().map(|(_, e)| e).collect(),
            self.warnings.into_iter().map(|(_, w)| w).collect(),
        )
    }

    fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    pub fn error(&mut self, loc: &Loc, keyword: &str, kind: ErrorKind, message: String) {
        self.errors.push((
            loc.seq,
            ConfigError {
                file: loc.file.to_path_buf(),
                line: loc.line,
                keyword: keyword.to_string(),
                kind,
                message,
            },
        ));
    }

    /// A warning; keepalived reports the unknown keywords, the adjusted
    /// values and the deprecated spellings as configuration errors.
    pub fn warn(&mut self, loc: &Loc, keyword: &str, kind: WarningKind, message: String) {
        let reports = matches!(
            kind,
            WarningKind::UnknownKeyword | WarningKind::Adjusted | WarningKind::Deprecated
        );
        self.warn_as(loc, keyword, kind, message, reports);
    }

    /// A warning, saying whether keepalived reports it as an error.
    pub fn warn_as(
        &mut self,
        loc: &Loc,
        keyword: &str,
        kind: WarningKind,
        message: String,
        keepalived_reports: bool,
    ) {
        self.warnings.push((
            loc.seq,
            Warning {
                file: loc.file.to_path_buf(),
                line: loc.line,
                keyword: keyword.to_string(),
                kind,
                message,
                keepalived_reports,
            },
        ));
    }
}

/// How deep includes may nest (a file including itself would loop).
const MAX_INCLUDE_DEPTH: usize = 32;

/// Reads `path` and everything it includes, handing each top-level statement (with its
/// block) to `sink` as soon as it is complete and dropping it there: a large file's
/// statements are never all held at once.
pub(crate) fn read_statements(path: &Path, diag: &mut Diag, sink: &mut dyn FnMut(Node, &mut Diag)) {
    let mut items = TreeBuilder::new(sink);
    let top = Loc {
        file: Arc::from(path),
        line: 0,
        seq: 0,
    };
    match fs::read(path) {
        Ok(bytes) => lex_file(path, &bytes, &mut items, diag, 0),
        Err(e) => diag.error(
            &top,
            "",
            ErrorKind::Io,
            format!("cannot read configuration file: {e}"),
        ),
    }
    items.finish(diag)
}

/// Reads configuration text that has no file of its own; includes are
/// relative to `name`'s directory.
#[cfg(test)]
pub(crate) fn read_tree_str(name: &Path, text: &str, diag: &mut Diag) -> Vec<Node> {
    let mut nodes = Vec::new();
    read_statements_str(name, text, diag, &mut |n, _| nodes.push(n));
    nodes
}

/// [`read_statements`] on configuration text that has no file of its own; includes are
/// relative to `name`'s directory.
pub(crate) fn read_statements_str(
    name: &Path,
    text: &str,
    diag: &mut Diag,
    sink: &mut dyn FnMut(Node, &mut Diag),
) {
    let mut items = TreeBuilder::new(sink);
    lex_file(name, text.as_bytes(), &mut items, diag, 0);
    items.finish(diag)
}

fn lex_file(path: &Path, bytes: &[u8], items: &mut TreeBuilder, diag: &mut Diag, depth: usize) {
    let file: Arc<Path> = Arc::from(path);
    let text = String::from_utf8_lossy(bytes);
    for (i, raw) in text.split('\n').enumerate() {
        let loc = Loc {
            file: file.clone(),
            line: (i + 1) as u32,
            seq: diag.next_seq(),
        };
        let line = decomment(raw.trim_end_matches('\r'), &loc, diag);
        handle_line(&line, &loc, path, items, diag, depth);
        items.deliver(diag);
    }
}

/// keepalived's `decomment`: strips leading blanks, the comment and trailing
/// blanks. (A `\` at the end of a line continues only `$` definitions in
/// keepalived, which lvsd does not support; elsewhere it stays a character.)
fn decomment<'a>(raw: &'a str, loc: &Loc, diag: &mut Diag) -> Cow<'a, str> {
    let s = raw.trim_start_matches([' ', '\t']);
    if !s.contains('\\') {
        // No escape (the usual line): the line up to its comment, as it is. Quotes and
        // comment marks are ASCII, so a byte scan finds them.
        let mut quote = false;
        let mut end = s.len();
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'"' => quote = !quote,
                b'#' | b'!' if !quote => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        if quote {
            unterminated_quote(s, loc, diag);
        }
        return Cow::Borrowed(s[..end].trim_end_matches([' ', '\t']));
    }
    let mut out = String::with_capacity(s.len());
    let mut quote = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quote = !quote;
                out.push(c);
            }
            '\\' => match chars.peek() {
                None => out.push('\\'),
                Some(&n) if !quote && (n == '#' || n == '!') => {
                    out.push(n);
                    chars.next();
                }
                Some(&n) => {
                    out.push('\\');
                    out.push(n);
                    chars.next();
                }
            },
            '#' | '!' if !quote => break,
            _ => out.push(c),
        }
    }
    if quote {
        unterminated_quote(s, loc, diag);
    }
    let trimmed = out.trim_end_matches([' ', '\t']).len();
    out.truncate(trimmed);
    Cow::Owned(out)
}

fn unterminated_quote(s: &str, loc: &Loc, diag: &mut Diag) {
    let word = s.split_whitespace().next().unwrap_or("");
    diag.error(
        loc,
        word,
        ErrorKind::Invalid,
        format!("unterminated quote in '{s}'"),
    );
}

fn handle_line(
    line: &str,
    loc: &Loc,
    path: &Path,
    items: &mut TreeBuilder,
    diag: &mut Diag,
    depth: usize,
) {
    if line.is_empty() {
        return;
    }
    if let Some(rest) = include_pattern(line) {
        include(rest, loc, path, items, diag, depth);
        return;
    }
    let first = line.chars().next().unwrap_or(' ');
    if first == '$' || first == '@' || first == '~' {
        let what = match first {
            '$' => "parameter definitions and substitution ($NAME)",
            '@' => "conditional configuration (@ID lines)",
            _ => "~SEQ and ~LST line generators",
        };
        diag.error(
            loc,
            line.split_whitespace().next().unwrap_or(""),
            ErrorKind::Unsupported,
            format!("lvsd does not support keepalived's {what}"),
        );
        return;
    }
    split_braces(line, loc, diag, items);
}

/// Every brace outside quotes is a logical line of its own. keepalived
/// reads what follows a brace as a new line and strips its comment again,
/// so an escaped `\#` there starts a comment: `url { path /a\#b }` loses its
/// closing brace in keepalived, and here too.
fn split_braces(line: &str, loc: &Loc, diag: &mut Diag, items: &mut TreeBuilder) {
    let mut quote = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quote = !quote,
            '{' | '}' if !quote => {
                push_words(&line[..i], loc, items);
                items.push(if c == '{' {
                    Item::Open(loc.clone())
                } else {
                    Item::Close(loc.clone())
                });
                let rest = decomment(&line[i + 1..], loc, diag);
                split_braces(&rest, loc, diag, items);
                return;
            }
            _ => {}
        }
    }
    push_words(line, loc, items);
}

/// keepalived's `alloc_strvec`: words split at blanks; a quoted string is
/// one word without its quotes.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if rest.is_empty() {
            break;
        }
        if let Some(q) = rest.strip_prefix('"') {
            match q.find('"') {
                Some(end) => {
                    words.push(q[..end].to_string());
                    rest = &q[end + 1..];
                }
                None => {
                    // decomment already reported the unmatched quote.
                    words.push(q.to_string());
                    break;
                }
            }
        } else {
            let end = rest.find([' ', '\t', '"']).unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    words
}

fn push_words(segment: &str, loc: &Loc, items: &mut TreeBuilder) {
    let words = split_words(segment);
    if !words.is_empty() {
        items.push(Item::Words(loc.clone(), words));
    }
}

/// keepalived's `is_include`: `include` then a blank (the `includer` family
/// of variants only changes how missing files are reported).
fn include_pattern(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("include")?;
    let mut chars = rest.chars();
    match chars.next()? {
        ' ' | '\t' => Some(rest.trim_start_matches([' ', '\t'])),
        c if "rmwba".contains(c) && matches!(chars.next(), Some(' ' | '\t')) => {
            Some(rest[1..].trim_start_matches([' ', '\t']))
        }
        _ => None,
    }
}

fn include(
    pattern: &str,
    loc: &Loc,
    path: &Path,
    items: &mut TreeBuilder,
    diag: &mut Diag,
    depth: usize,
) {
    if depth >= MAX_INCLUDE_DEPTH {
        diag.error(
            loc,
            "include",
            ErrorKind::Invalid,
            format!(
                "includes nested more than {MAX_INCLUDE_DEPTH} deep (does a file include itself?)"
            ),
        );
        return;
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        base.join(pattern)
    };
    let wildcard = pattern.contains(['*', '?', '[']);
    let matches = glob(&full);
    if matches.is_empty() {
        let msg = if wildcard {
            format!("no configuration files match '{pattern}'")
        } else {
            format!("configuration file '{}' is missing", full.display())
        };
        diag.warn(loc, "include", WarningKind::Include, msg);
        return;
    }
    for file in matches {
        let meta = match fs::metadata(&file) {
            Ok(m) => m,
            Err(e) => {
                diag.warn(
                    loc,
                    "include",
                    WarningKind::Include,
                    format!("cannot read '{}': {e} - skipping", file.display()),
                );
                continue;
            }
        };
        if meta.is_dir() {
            // keepalived skips directories without counting an error.
            diag.warn(
                loc,
                "include",
                WarningKind::Include,
                format!("'{}' is a directory - skipping", file.display()),
            );
            continue;
        }
        if !meta.is_file() || meta.permissions().mode() & 0o111 != 0 {
            diag.error(
                loc,
                "include",
                ErrorKind::Invalid,
                format!(
                    "configuration file '{}' is not a regular non-executable file",
                    file.display()
                ),
            );
            continue;
        }
        match fs::read(&file) {
            Ok(bytes) => lex_file(&file, &bytes, items, diag, depth + 1),
            Err(e) => diag.warn(
                loc,
                "include",
                WarningKind::Include,
                format!("cannot read '{}': {e} - skipping", file.display()),
            ),
        }
    }
}

/// Expands a glob pattern (`*`, `?`, `[...]` in any component) to the
/// existing paths it matches, sorted.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut current: Vec<PathBuf> = vec![PathBuf::new()];
    for comp in pattern.components() {
        let part = comp.as_os_str().to_string_lossy().into_owned();
        let mut next = Vec::new();
        if !part.contains(['*', '?', '[']) {
            for p in &current {
                next.push(p.join(&part));
            }
        } else {
            for p in &current {
                let dir = if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p.as_path()
                };
                let Ok(rd) = fs::read_dir(dir) else { continue };
                let mut names: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| {
                        (!n.starts_with('.') || part.starts_with('.')) && wild_match(&part, n)
                    })
                    .collect();
                names.sort();
                for n in names {
                    next.push(p.join(n));
                }
            }
        }
        current = next;
    }
    let mut found: Vec<PathBuf> = current.into_iter().filter(|p| p.exists()).collect();
    found.sort();
    found
}

/// Shell-style matching of one name against one pattern component.
fn wild_match(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    fn go(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| go(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && go(&p[1..], &n[1..]),
            Some('[') => {
                let Some(close) = p.iter().skip(2).position(|&c| c == ']').map(|i| i + 2) else {
                    return n.first() == Some(&'[') && go(&p[1..], &n[1..]);
                };
                let Some(&c) = n.first() else { return false };
                let mut set = &p[1..close];
                let negate = matches!(set.first(), Some('!' | '^'));
                if negate {
                    set = &set[1..];
                }
                let mut hit = false;
                let mut i = 0;
                while i < set.len() {
                    if i + 2 < set.len() && set[i + 1] == '-' {
                        hit |= set[i] <= c && c <= set[i + 2];
                        i += 3;
                    } else {
                        hit |= set[i] == c;
                        i += 1;
                    }
                }
                hit != negate && go(&p[close + 1..], &n[1..])
            }
            Some(&c) => n.first() == Some(&c) && go(&p[1..], &n[1..]),
        }
    }
    go(&p, &n)
}

/// Turns the logical lines into statements with blocks as the lexer reads
/// them, so that a large file's lines are never all held at once: a
/// statement takes the block of a `{` that follows it; a `{` after no
/// statement is an error and its block is dropped; an extra `}` is an error.
/// Errors are reported by [`TreeBuilder::finish`], after the reading's own. Complete
/// top-level statements go to the sink ([`TreeBuilder::deliver`]).
struct TreeBuilder<'s> {
    /// Takes each complete top-level statement.
    sink: &'s mut dyn FnMut(Node, &mut Diag),
    /// The open levels, innermost last; the first is the file's top level.
    levels: Vec<Level>,
    /// The last statement, while a `{` may still follow it.
    pending: Option<(Loc, Vec<String>)>,
    /// Errors: where, keyword, message.
    errors: Vec<(Loc, String, String)>,
}

/// One level of the tree being built.
struct Level {
    nodes: Vec<Node>,
    /// The statement whose block this is (none for the top level, and for a
    /// `{` after no statement, whose block is dropped).
    owner: Option<(Loc, Vec<String>)>,
    /// Where the block opened and its keyword, for the error if it is not
    /// closed.
    opened: Option<(Loc, String)>,
}

impl<'s> TreeBuilder<'s> {
    fn new(sink: &'s mut dyn FnMut(Node, &mut Diag)) -> TreeBuilder<'s> {
        TreeBuilder {
            sink,
            levels: vec![Level {
                nodes: Vec::new(),
                owner: None,
                opened: None,
            }],
            pending: None,
            errors: Vec::new(),
        }
    }

    fn push(&mut self, item: Item) {
        match item {
            Item::Words(loc, words) => {
                self.flush();
                self.pending = Some((loc, words));
            }
            Item::Open(loc) => {
                let level = match self.pending.take() {
                    Some((l, words)) => Level {
                        nodes: Vec::new(),
                        opened: Some((l.clone(), words[0].clone())),
                        owner: Some((l, words)),
                    },
                    None => {
                        self.errors.push((
                            loc.clone(),
                            "{".into(),
                            "unexpected '{' (no keyword before it)".into(),
                        ));
                        Level {
                            nodes: Vec::new(),
                            owner: None,
                            opened: Some((loc, "{".into())),
                        }
                    }
                };
                self.levels.push(level);
            }
            Item::Close(loc) => {
                self.flush();
                if self.levels.len() == 1 {
                    self.errors
                        .push((loc, "}".into(), "extra '}' found".into()));
                } else {
                    self.close_level();
                }
            }
        }
    }

    /// Hands the complete top-level statements to the sink (the pending one may still
    /// take a block).
    fn deliver(&mut self, diag: &mut Diag) {
        for n in std::mem::take(&mut self.levels[0].nodes) {
            (self.sink)(n, diag);
        }
    }

    /// The pending statement, without a block.
    fn flush(&mut self) {
        if let Some((loc, words)) = self.pending.take() {
            self.top().push(Node {
                loc,
                words,
                block: None,
            });
        }
    }

    fn top(&mut self) -> &mut Vec<Node> {
        &mut self.levels.last_mut().expect("the top level stays").nodes
    }

    /// Ends the innermost block (never the top level).
    fn close_level(&mut self) {
        let Some(mut level) = self.levels.pop() else {
            return;
        };
        level.nodes.shrink_to_fit();
        if let Some((loc, words)) = level.owner {
            self.top().push(Node {
                loc,
                words,
                block: Some(level.nodes),
            });
        }
    }

    /// Delivers the rest; blocks still open are errors (and end here).
    fn finish(mut self, diag: &mut Diag) {
        self.flush();
        while self.levels.len() > 1 {
            if let Some((loc, kw)) = self.levels.last().and_then(|l| l.opened.clone()) {
                self.errors.push((
                    loc,
                    kw,
                    "block is not closed: '}' missing at the end of the configuration".into(),
                ));
            }
            self.close_level();
        }
        for (loc, kw, message) in std::mem::take(&mut self.errors) {
            diag.error(&loc, &kw, ErrorKind::Invalid, message);
        }
        self.deliver(diag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Vec<Node>, Diag) {
        let mut d = Diag::default();
        let t = read_tree_str(Path::new("/nonexistent/k.conf"), text, &mut d);
        (t, d)
    }

    #[test]
    fn braces_on_same_or_next_line_and_inline_blocks() {
        let (t, d) = tree("a 1 {\n b 2 }\nc\n{\n d \"x y\" { e }\n}\n");
        assert!(d.errors.is_empty(), "{:?}", d.errors);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].words, ["a", "1"]);
        let a = t[0].block.as_ref().unwrap();
        assert_eq!(a[0].words, ["b", "2"]);
        assert_eq!(t[1].words, ["c"]);
        assert_eq!(t[1].loc.line, 3);
        let c = t[1].block.as_ref().unwrap();
        assert_eq!(c[0].words, ["d", "x y"]);
        assert_eq!(c[0].block.as_ref().unwrap()[0].words, ["e"]);
    }

    #[test]
    fn comments_quotes_and_escapes() {
        let (t, _) = tree("a \"#not\" b # comment\nx ! other\ny \\#z\nq \"br{ace}\"\n");
        assert_eq!(t[0].words, ["a", "#not", "b"]);
        assert_eq!(t[1].words, ["x"]);
        assert_eq!(t[2].words, ["y", "#z"]);
        assert_eq!(t[3].words, ["q", "br{ace}"]);
        assert!(t[3].block.is_none());
    }

    #[test]
    fn a_final_backslash_is_a_character_and_lines_count() {
        let (t, _) = tree("a b \\\n\n  c\n");
        assert_eq!(t[0].words, ["a", "b", "\\"]);
        assert_eq!(t[1].words, ["c"]);
        assert_eq!(t[1].loc.line, 3);
    }

    #[test]
    fn unbalanced_braces_are_errors_with_lines() {
        let (_, d) = tree("a {\n}\n}\n");
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].1.line, 3);
        let (_, d) = tree("a {\nb\n");
        assert_eq!(d.errors.len(), 1);
        assert_eq!(
            (d.errors[0].1.line, d.errors[0].1.keyword.as_str()),
            (1, "a")
        );
    }

    #[test]
    fn an_escaped_hash_after_a_brace_starts_a_comment_as_in_keepalived() {
        let (t, d) = tree("u {\n path /b\\#c\n}\nv { path /b\\#c }\n");
        assert_eq!(t[0].block.as_ref().unwrap()[0].words, ["path", "/b#c"]);
        assert_eq!(t[1].block.as_ref().unwrap()[0].words, ["path", "/b"]);
        // ... and the '}' after it is gone: the block is not closed.
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].1.line, 4);
    }

    #[test]
    fn wildcards() {
        assert!(wild_match("*.conf", "a.conf"));
        assert!(!wild_match("*.conf", "a.conf~"));
        assert!(wild_match("vs-[0-9]?.conf", "vs-1a.conf"));
        assert!(!wild_match("vs-[!0-9].conf", "vs-1.conf"));
    }
}
