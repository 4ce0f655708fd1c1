//! Standard output buffered as glibc's stdio buffers it, so that what
//! `ipvsadm` writes reaches its standard output at the same moments as the
//! C tool's: with `ipvsadm -R ... 2>&1`, error messages (stderr is
//! unbuffered) land between the same bytes of a listing.
//!
//! glibc's rules (`_IO_file_doallocate`, `_IO_new_file_xsputn`):
//!
//! * the buffer is set up at the first write: `BUFSIZ` (8192) bytes, or
//!   the file's `st_blksize` when that is smaller and not zero (4096 for a
//!   pipe, a regular file on most file systems, `/dev/null`);
//! * a terminal (a character device that `isatty`) is line buffered: what
//!   is written up to the last newline of a write goes out with it;
//! * anything else is fully buffered: the buffer is written when it is
//!   full, even in the middle of a line, and a write larger than what fits
//!   writes the full buffer and then whole blocks directly, keeping the
//!   rest. Every write(2) therefore ends at a multiple of the block size
//!   from the start of the output; the rest goes out at exit.

use std::io::{self, Write};
use std::os::fd::RawFd;

/// glibc's `BUFSIZ`.
pub const BUFSIZ: usize = 8192;

/// A descriptor written as glibc's `FILE` writes it (see the module
/// documentation). Write errors are returned (the command line reports
/// them); the descriptor is not closed on drop.
#[derive(Debug)]
pub struct CStdout {
    fd: RawFd,
    buf: Vec<u8>,
    /// The buffer's size once set up (0 before the first write).
    size: usize,
    line_buffered: bool,
    /// glibc has set up the buffer (at the first write that did not fit
    /// in the missing one).
    allocated: bool,
}

/// What glibc decides for descriptor `fd` when it sets up a stream's
/// buffer: its size, and whether the stream is line buffered.
pub fn buffer_mode(fd: RawFd) -> (usize, bool) {
    // SAFETY: fstat fills `st` for any descriptor value (or fails).
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return (BUFSIZ, false);
    }
    // SAFETY: isatty only asks the kernel about the descriptor.
    let tty = st.st_mode & libc::S_IFMT == libc::S_IFCHR && unsafe { libc::isatty(fd) } == 1;
    let blksize = usize::try_from(st.st_blksize).unwrap_or(0);
    let size = if blksize > 0 && blksize < BUFSIZ {
        blksize
    } else {
        BUFSIZ
    };
    (size, tty)
}

impl CStdout {
    /// Descriptor `fd` (1 for the process's standard output), buffered as
    /// glibc buffers it.
    pub fn new(fd: RawFd) -> Self {
        CStdout {
            fd,
            buf: Vec::new(),
            size: 0,
            line_buffered: false,
            allocated: false,
        }
    }

    /// The process's standard output.
    pub fn stdout() -> Self {
        Self::new(libc::STDOUT_FILENO)
    }

    fn raw_write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            // SAFETY: `data` is a valid slice; write(2) reads at most its
            // length.
            let n = unsafe { libc::write(self.fd, data.as_ptr().cast(), data.len()) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n as usize..];
        }
        Ok(())
    }

    /// Writes out the buffer (glibc's `_IO_OVERFLOW (f, EOF)`). On an error
    /// the buffered bytes are dropped, as glibc leaves them unwritten.
    fn write_buffer(&mut self) -> io::Result<()> {
        let r = self.raw_write_all(&self.buf);
        self.buf.clear();
        r
    }
}

impl Write for CStdout {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if self.size == 0 {
            (self.size, self.line_buffered) = buffer_mode(self.fd);
            self.buf.reserve_exact(self.size);
        }
        if self.line_buffered {
            // Up to the last newline goes out now, with what was buffered.
            self.buf.extend_from_slice(data);
            if let Some(last) = data.iter().rposition(|&b| b == b'\n') {
                let keep = data.len() - last - 1;
                let through = self.buf.len() - keep;
                let r = self.raw_write_all(&self.buf[..through]);
                self.buf.drain(..through);
                r?;
            }
            while self.buf.len() >= self.size {
                let r = self.raw_write_all(&self.buf[..self.size]);
                self.buf.drain(..self.size);
                r?;
            }
            return Ok(());
        }
        // Fill the buffer (none before the first write); when more is left,
        // write the full buffer (or set it up, on the first write), then
        // whole blocks straight from `data`, and keep the rest. A buffer
        // that is just full waits for the next byte.
        let room = if self.allocated {
            self.size - self.buf.len()
        } else {
            0
        };
        let (now, rest) = data.split_at(room.min(data.len()));
        self.buf.extend_from_slice(now);
        if rest.is_empty() {
            return Ok(());
        }
        if self.allocated {
            self.write_buffer()?;
        }
        self.allocated = true;
        let whole = rest.len() - rest.len() % self.size;
        self.raw_write_all(&rest[..whole])?;
        self.buf.extend_from_slice(&rest[whole..]);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.write_buffer()
    }
}

/// Writes `text` and a newline to standard error in one write(2), as
/// glibc's unbuffered stderr writes one `fprintf`.
pub fn eprintln_bytes(err: &mut dyn Write, text: &[u8]) {
    let mut line = Vec::with_capacity(text.len() + 1);
    line.extend_from_slice(text);
    line.push(b'\n');
    let _ = err.write_all(&line);
}
