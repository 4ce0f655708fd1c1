//! SMTP_CHECK: banner 220, HELO (or EHLO) answered 250, QUIT.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::net::{connect_tcp, failure};
use super::{CheckSpec, Failure, SmtpCheck, Stage};

/// One reply, multi-line ones included ("250-..." up to "250 ..."): its code and first line
/// (SMTP and FTP write replies alike).
pub(crate) async fn reply<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<(u16, String), Failure> {
    let mut first: Option<String> = None;
    loop {
        let mut line = Vec::new();
        let n = (&mut *r)
            .take(4096)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| failure(Stage::Reply, &e))?;
        if n == 0 {
            return Err(Failure::BadReply("connection closed".into()));
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let code = text
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| Failure::BadReply(format!("{text:?}")))?;
        let last = text.as_bytes().get(3) != Some(&b'-');
        let first = first.get_or_insert(text);
        if last {
            return Ok((code, first.clone()));
        }
    }
}

/// SMTP_CHECK, bounded by the connect timeout.
pub(crate) async fn check(spec: &CheckSpec, smtp: &SmtpCheck) -> Result<(), Failure> {
    let mut stage = Stage::Connect;
    match tokio::time::timeout(spec.timing.connect_timeout, run(spec, smtp, &mut stage)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(stage)),
    }
}

async fn run(spec: &CheckSpec, smtp: &SmtpCheck, stage: &mut Stage) -> Result<(), Failure> {
    let stream = connect_tcp(spec).await?;
    let mut r = BufReader::with_capacity(1024, stream);
    *stage = Stage::Reply;
    let (code, line) = reply(&mut r).await?;
    if code != 220 {
        return Err(Failure::Smtp {
            stage: "banner",
            line,
        });
    }
    let verb = if smtp.ehlo { "EHLO" } else { "HELO" };
    *stage = Stage::Request;
    r.get_mut()
        .write_all(format!("{verb} {}\r\n", smtp.helo_name).as_bytes())
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    *stage = Stage::Reply;
    let (code, line) = reply(&mut r).await?;
    if code != 250 {
        return Err(Failure::Smtp { stage: verb, line });
    }
    *stage = Stage::Request;
    r.get_mut()
        .write_all(b"QUIT\r\n")
        .await
        .map_err(|e| failure(Stage::Request, &e))?;
    *stage = Stage::Reply;
    // Any answer to QUIT will do, as in keepalived.
    reply(&mut r).await?;
    Ok(())
}
