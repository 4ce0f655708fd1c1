//! The `-R` line reader, with ipvsadm 1.31's tokenizer rules: tokens are
//! separated by space, tab, CR and LF (no quoting), words longer than 4096
//! bytes are split, every token `ipvsadm` is dropped, and a last line that
//! has no newline but ends in two or more white-space characters is lost
//! (the C tool's reader gives up at EOF while skipping white space).
//!
//! Deliberate difference: lines whose first non-blank character is `#` are
//! skipped (ipvsadm 1.31 treats them as a command and aborts).

use std::io::{self, BufRead};

use super::table::limits;

/// One line of `-R` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The tokens, without the `ipvsadm` ones.
    pub tokens: Vec<String>,
    /// The line's first word started with `#`.
    pub comment: bool,
}

/// Reads `-R` input line by line.
#[derive(Debug)]
pub struct LineReader<R> {
    input: R,
    peeked: Option<Option<u8>>,
    /// Bytes taken from `input` and not yet looked at (`chunk[pos..]`):
    /// the reader walks bytes one at a time, so it reads in chunks rather
    /// than asking `input` for every byte.
    chunk: Vec<u8>,
    pos: usize,
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<R: BufRead> LineReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        LineReader {
            input,
            peeked: None,
            chunk: Vec::new(),
            pos: 0,
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        if let Some(p) = self.peeked {
            return Ok(p);
        }
        if self.pos == self.chunk.len() {
            self.chunk.clear();
            self.pos = 0;
            let buf = self.input.fill_buf()?;
            self.chunk.extend_from_slice(buf);
            let n = buf.len();
            self.input.consume(n);
        }
        let b = self.chunk.get(self.pos).copied();
        if b.is_some() {
            self.pos += 1;
        }
        self.peeked = Some(b);
        Ok(b)
    }

    fn get(&mut self) -> io::Result<Option<u8>> {
        let b = self.peek()?;
        self.peeked = None;
        Ok(b)
    }

    /// The next line; `None` at the end of the input (including the C
    /// reader's early ends).
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut tokens = Vec::new();
        let mut comment = false;
        let mut first = true;
        loop {
            let c = match self.peek()? {
                None => break,
                Some(c) => c,
            };
            if is_sep(c) {
                // No token here: skip white space up to a newline.
                loop {
                    match self.get()? {
                        None => return Ok(None),
                        Some(b'\n') => return Ok(Some(Line { tokens, comment })),
                        Some(b' ' | b'\t' | b'\r') => {}
                        Some(other) => {
                            self.peeked = Some(Some(other));
                            break;
                        }
                    }
                }
                continue;
            }
            let mut word = Vec::new();
            while word.len() < limits::RESTORE_TOKEN_MAX {
                match self.peek()? {
                    Some(b) if !is_sep(b) => {
                        word.push(b);
                        self.get()?;
                    }
                    _ => break,
                }
            }
            let tail = match self.peek()? {
                Some(b) if is_sep(b) => {
                    self.get()?;
                    Some(b)
                }
                _ => None,
            };
            if let Some(nul) = word.iter().position(|&b| b == 0) {
                word.truncate(nul);
            }
            let word = String::from_utf8_lossy(&word).into_owned();
            if first {
                comment = word.starts_with('#');
                first = false;
            }
            if word != "ipvsadm" {
                tokens.push(word);
            }
            if tail == Some(b'\n') {
                return Ok(Some(Line { tokens, comment }));
            }
        }
        if tokens.is_empty() {
            return Ok(None);
        }
        Ok(Some(Line { tokens, comment }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &str) -> Vec<Vec<String>> {
        let mut r = LineReader::new(input.as_bytes());
        let mut out = Vec::new();
        while let Some(l) = r.next_line().unwrap() {
            out.push(l.tokens);
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

    #[test]
    fn long_words_split() {
        let long = "x".repeat(4100);
        let l = lines(&format!("-A {long}\n"));
        assert_eq!(l[0].len(), 3);
        assert_eq!(l[0][1].len(), 4096);
        assert_eq!(l[0][2].len(), 4);
    }
}
