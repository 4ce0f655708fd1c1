//! The `-R` line reader, with ipvsadm 1.31's tokenizer rules: tokens are
//! separated by space, tab, CR and LF (no quoting), words longer than 4096
//! bytes are split, every token `ipvsadm` is dropped, and a last line that
//! has no newline but ends in two or more white-space characters is lost
//! (the C tool's reader gives up at EOF while skipping white space).
//!
//! Deliberate difference: lines whose first non-blank character is `#` are
//! skipped (ipvsadm 1.31 treats them as a command and aborts).

use std::io::{self, Read};

use super::table::limits;

/// One line of `-R` input: its tokens (without the `ipvsadm` ones), as
/// bytes (the C tool works on bytes: a stray byte is echoed as it is),
/// kept in one buffer so that reading a line allocates nothing once the
/// buffers have grown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// The tokens, one after the other.
    text: Vec<u8>,
    /// Where each token ends in `text`.
    ends: Vec<usize>,
    /// The line's first word started with `#`.
    pub comment: bool,
}

impl Line {
    /// The tokens, in order.
    pub fn tokens(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let t = &self.text[start..end];
            start = end;
            t
        })
    }

    /// How many tokens the line has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the line has no tokens.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.comment = false;
    }

    /// Adds `word`.
    fn push(&mut self, word: &[u8]) {
        self.text.extend_from_slice(word);
        self.ends.push(self.text.len());
    }
}

/// Reads `-R` input line by line.
#[derive(Debug)]
pub struct LineReader<R> {
    input: R,
    /// Input read and not yet handed out: `buf[pos..end]`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// `input` has nothing more (or failed: a read error ends the input,
    /// as it ends the C tool's `getc` loop).
    eof: bool,
    /// Where the next line's newline is in `buf`, when [`Self::has_line`]
    /// has found it.
    newline_at: Option<usize>,
}

/// A token separator of the `-R` reader: space, tab, newline, carriage
/// return.
const fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

const SEPARATOR: u8 = 1;
const NUL: u8 = 2;

/// [`SEPARATOR`] for the token separators ([`is_sep`]), [`NUL`] for NUL,
/// 0 otherwise.
const BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        if is_sep(b as u8) {
            t[b] = SEPARATOR;
        }
        b += 1;
    }
    t[0] = NUL;
    t
};

/// A one in every byte of a word, and the high bit of every byte: the
/// constants of the eight-bytes-at-a-time tests here and in the quick paths.
pub(crate) const ONES: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Eight bytes as one little-endian word.
pub(crate) fn word_at(c: &[u8]) -> u64 {
    u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
}

/// The high bit of each byte of `w` that equals `byte` is set, and below
/// the first such byte no bit is (higher bits may be false alarms, so only
/// the lowest one counts).
fn matches_in(w: u64, byte: u8) -> u64 {
    let x = w ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// Where `needle` first occurs in `hay`: eight bytes at a time, which
/// matters under emulation, where every load is costly.
pub fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let m = matches_in(word_at(c), needle);
        if m != 0 {
            return Some(base + (m.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| base + i)
}

/// The reader's buffer: what is read from the input at a time (a big `-R`
/// input then takes few system calls, and reads this large go straight
/// into the buffer rather than through stdin's own). Kept small, since
/// every page of it is a page fault on first use.
const CHUNK: usize = 32 * 1024;

impl<R: Read> LineReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        LineReader {
            input,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            eof: false,
            newline_at: None,
        }
    }

    /// Whether the next line (or the end of the input) is already in the
    /// buffer, so that [`Self::raw_line`] will not have to wait for the
    /// input: `-R` sends the changes it holds before it waits.
    pub fn has_line(&mut self) -> bool {
        if self.newline_at.is_some() || self.eof {
            return true;
        }
        self.newline_at = find_byte(&self.buf[self.pos..self.end], b'\n').map(|i| self.pos + i);
        self.newline_at.is_some()
    }

    /// Makes `buf[pos..end]` hold a whole line; returns where it ends (the
    /// index of its newline, or the end of the input).
    fn fill_line(&mut self) -> (usize, bool) {
        if let Some(at) = self.newline_at.take() {
            return (at, true);
        }
        let mut scanned = self.pos;
        loop {
            if let Some(i) = find_byte(&self.buf[scanned..self.end], b'\n') {
                return (scanned + i, true);
            }
            if self.eof {
                return (self.end, false);
            }
            // Keep only the unread part (a piece of a line), at the front,
            // with at least half a chunk of room after it.
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.end, 0);
                self.end -= self.pos;
                self.pos = 0;
            }
            if self.buf.len() - self.end < CHUNK / 2 {
                let bigger = (self.buf.len() * 2).max(self.end + CHUNK);
                self.buf.resize(bigger, 0);
            }
            scanned = self.end;
            let n = loop {
                match self.input.read(&mut self.buf[self.end..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    // ipvsadm reads with getc, which answers EOF for an
                    // error as for the end: the input ends there, silently
                    // (`ipvsadm -R < directory` is an empty restore).
                    Err(_) => break 0,
                }
            };
            if n == 0 {
                self.eof = true;
            }
            self.end += n;
        }
    }

    /// The next line as it was read: its bytes (without the newline) and
    /// whether a newline ended it; `None` at the end of the input (or at
    /// a read error, which ends it too).
    pub fn raw_line(&mut self) -> Option<(&[u8], bool)> {
        let (end, newline) = self.fill_line();
        let start = self.pos;
        if start == end && !newline {
            return None;
        }
        self.pos = if newline { end + 1 } else { end };
        Some((&self.buf[start..end], newline))
    }

    /// Reads the next line into `line`; `false` at the end of the input
    /// (including the C reader's early ends).
    pub fn read_line(&mut self, line: &mut Line) -> bool {
        match self.raw_line() {
            Some((raw, newline)) => tokenize(raw, newline, line),
            None => {
                line.clear();
                false
            }
        }
    }

    /// The next line; `None` at the end of the input (including the C
    /// reader's early ends).
    pub fn next_line(&mut self) -> Option<Line> {
        let mut line = Line::default();
        self.read_line(&mut line).then_some(line)
    }
}

/// Splits one raw line (see [`LineReader::raw_line`]) into `line` with the
/// C tool's rules; `false` when the C reader would have lost it (the last
/// line, without a newline, ending in two or more white-space characters,
/// or with nothing in it).
pub fn tokenize(s: &[u8], newline: bool, line: &mut Line) -> bool {
    line.clear();
    let mut i = 0;
    let mut first = true;
    loop {
        if i == s.len() {
            // A newline ends the line; the end of the input ends it
            // too, unless nothing is left of it.
            return newline || !line.is_empty();
        }
        if is_sep(s[i]) {
            // White space up to a newline, or to the end of the input
            // (where the C reader gives up and the line is lost).
            while i < s.len() && is_sep(s[i]) {
                i += 1;
            }
            if i == s.len() {
                return newline;
            }
            continue;
        }
        // The word: up to a separator or the size limit; its text ends
        // at its first NUL, if any.
        let word_start = i;
        let limit = (i + limits::RESTORE_TOKEN_MAX).min(s.len());
        let mut nul = limit;
        while i < limit {
            match BYTE_CLASS[usize::from(s[i])] {
                SEPARATOR => break,
                NUL if nul == limit => nul = i,
                _ => {}
            }
            i += 1;
        }
        let word = &s[word_start..nul.min(i)];
        // One separator after the word belongs to it.
        if i < s.len() && is_sep(s[i]) {
            i += 1;
        }
        if first {
            line.comment = word.first() == Some(&b'#');
            first = false;
        }
        if word != b"ipvsadm" {
            line.push(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &str) -> Vec<Vec<String>> {
        let mut r = LineReader::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some(l) = r.next_line() {
            out.push(
                l.tokens()
                    .map(|t| String::from_utf8(t.to_vec()).unwrap())
                    .collect(),
            );
        }
        out
    }

    #[test]
    fn tokens_and_blank_lines() {
        assert_eq!(
            lines("ipvsadm -A  -t 1.2.3.4:80\r\n\n   \n-C"),
            vec![vec!["-A", "-t", "1.2.3.4:80"], vec![], vec![], vec!["-C"]]
        );
    }

    #[test]
    fn eof_quirk() {
        assert_eq!(lines("-C\n-L "), vec![vec!["-C"], vec!["-L"]]);
        assert_eq!(lines("-C\n-L  "), vec![vec!["-C"]]);
        assert_eq!(lines("-C\nipvsadm"), vec![vec!["-C"]]);
    }

    /// The C tool's reader, transcribed byte by byte (getc and ungetc on
    /// a stream): the reference the buffered reader must match.
    fn reference_lines(input: &[u8]) -> Vec<(Vec<Vec<u8>>, bool)> {
        let mut out = Vec::new();
        let mut at = 0;
        let peek = |at: usize| input.get(at).copied();
        'lines: loop {
            let mut tokens = Vec::new();
            let mut comment = false;
            let mut first = true;
            while let Some(c) = peek(at) {
                if is_sep(c) {
                    loop {
                        match peek(at) {
                            None => break 'lines,
                            Some(b'\n') => {
                                at += 1;
                                out.push((tokens, comment));
                                continue 'lines;
                            }
                            Some(b' ' | b'\t' | b'\r') => at += 1,
                            Some(_) => break,
                        }
                    }
                    continue;
                }
                let mut word = Vec::new();
                while word.len() < limits::RESTORE_TOKEN_MAX {
                    match peek(at) {
                        Some(b) if !is_sep(b) => {
                            word.push(b);
                            at += 1;
                        }
                        _ => break,
                    }
                }
                let tail = match peek(at) {
                    Some(b) if is_sep(b) => {
                        at += 1;
                        Some(b)
                    }
                    _ => None,
                };
                if let Some(nul) = word.iter().position(|&b| b == 0) {
                    word.truncate(nul);
                }
                if first {
                    comment = word.first() == Some(&b'#');
                    first = false;
                }
                if word != b"ipvsadm" {
                    tokens.push(word);
                }
                if tail == Some(b'\n') {
                    out.push((tokens, comment));
                    continue 'lines;
                }
            }
            if !tokens.is_empty() {
                out.push((tokens, comment));
            }
            break;
        }
        out
    }

    /// Random inputs made of the pieces that matter (separators, NUL,
    /// `#`, `ipvsadm`, invalid UTF-8, words near the size limit), read
    /// through a reader that hands out few bytes at a time: the same lines
    /// as the reference.
    #[test]
    fn matches_the_reference_reader() {
        /// Hands out at most `step` bytes per `read`.
        struct Trickle<'a> {
            data: &'a [u8],
            step: usize,
        }
        impl io::Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.data.len().min(self.step).min(buf.len());
                buf[..n].copy_from_slice(&self.data[..n]);
                self.data = &self.data[n..];
                Ok(n)
            }
        }
        let pieces: [&[u8]; 14] = [
            b" ",
            b"\t",
            b"\r",
            b"\n",
            b"\0",
            b"#",
            b"ipvsadm",
            b"-A",
            b"x",
            b"\xff",
            b"\xc3\xa9",
            b"  ",
            b"\n\n",
            b"-t 192.0.2.1:80",
        ];
        let mut next = crate::ipvsadm::xorshift(0x2545_f491_4f6c_dd1d);
        for case in 0..3000 {
            let mut input = Vec::new();
            for _ in 0..next() % 40 {
                input.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            if case % 50 == 0 {
                // A word around the size limit, with a multi-byte
                // character across the cut.
                let n = limits::RESTORE_TOKEN_MAX - 2 + (next() % 4) as usize;
                input.extend(std::iter::repeat_n(b'w', n));
                input.extend_from_slice("\u{e9}tail".as_bytes());
            }
            if case % 1000 == 0 {
                // A line longer than the reader's buffer.
                input.extend(std::iter::repeat_n(b'L', 3 * CHUNK));
                input.extend_from_slice(b" tail\n-A");
            }
            let want = reference_lines(&input);
            let step = if case % 1000 == 0 {
                CHUNK / 3
            } else {
                1 + (next() % 9) as usize
            };
            let mut r = LineReader::new(Trickle { data: &input, step });
            let mut got = Vec::new();
            while let Some(l) = r.next_line() {
                got.push((
                    l.tokens().map(<[u8]>::to_vec).collect::<Vec<_>>(),
                    l.comment,
                ));
            }
            assert_eq!(got, want, "input {:?}", String::from_utf8_lossy(&input));
        }
    }

    #[test]
    fn word_at_a_time_search() {
        let mut next = crate::ipvsadm::xorshift(99);
        for _ in 0..20_000 {
            let x = next();
            let len = (x % 40) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|k| [b'a', b' ', b'\n', 0, 0xff, b'!', 0x0a ^ 0x80][((x >> k) % 7) as usize])
                .collect();
            for needle in [b' ', b'\n', 0, 0xff, b'!', b'z'] {
                assert_eq!(
                    find_byte(&hay, needle),
                    hay.iter().position(|&b| b == needle)
                );
            }
        }
    }

    #[test]
    fn long_words_split() {
        let long = "x".repeat(4100);
        let l = lines(&format!("-A {long}\n"));
        assert_eq!(l[0].len(), 3);
        assert_eq!(l[0][1].len(), 4096);
        assert_eq!(l[0][2].len(), 4);
    }
}
