//! A TCP dialogue: bytes sent, reply lines expected (ldirectord's `simpletcp` and its banner
//! checks of POP3, IMAP and NNTP, over TLS for pops and imaps), bounded as a whole by the
//! connect timeout.

use regex::bytes::Regex;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_rustls::rustls::pki_types::ServerName;

use super::net::{connect_tcp, failure};
use super::tls;
use super::{CheckSpec, DialogueCheck, DialogueStep, Failure, SpecError, Stage};

/// The compiled patterns of a dialogue's `Expect` steps, in order.
pub(crate) fn prepare(d: &DialogueCheck) -> Result<Vec<Regex>, SpecError> {
    d.steps
        .iter()
        .filter_map(|s| match s {
            DialogueStep::Expect(p) => {
                Some(Regex::new(p).map_err(|e| SpecError::Regex(e.to_string())))
            }
            _ => None,
        })
        .collect()
}

/// Runs the dialogue.
pub(crate) async fn check(
    spec: &CheckSpec,
    d: &DialogueCheck,
    res: &[Regex],
) -> Result<(), Failure> {
    let mut stage = Stage::Connect;
    match tokio::time::timeout(spec.timing.connect_timeout, run(spec, d, res, &mut stage)).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Timeout(stage)),
    }
}

async fn run(
    spec: &CheckSpec,
    d: &DialogueCheck,
    res: &[Regex],
    stage: &mut Stage,
) -> Result<(), Failure> {
    let stream = connect_tcp(spec).await?;
    if d.tls {
        *stage = Stage::Tls;
        let connector = tls::connector(false).map_err(Failure::Tls)?;
        let name = ServerName::IpAddress(spec.probe_addr().ip().into());
        let stream = connector
            .connect(name, stream)
            .await
            .map_err(|e| Failure::Tls(e.to_string()))?;
        talk(stream, d, res, stage).await
    } else {
        talk(stream, d, res, stage).await
    }
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    d: &DialogueCheck,
    res: &[Regex],
    stage: &mut Stage,
) -> Result<(), Failure> {
    let mut r = BufReader::with_capacity(2048, stream);
    let mut next_re = res.iter();
    for step in &d.steps {
        match step {
            DialogueStep::Send(bytes) => {
                *stage = Stage::Request;
                r.get_mut()
                    .write_all(bytes)
                    .await
                    .map_err(|e| failure(Stage::Request, &e))?;
            }
            DialogueStep::ShutdownWrite => {
                *stage = Stage::Request;
                r.get_mut()
                    .shutdown()
                    .await
                    .map_err(|e| failure(Stage::Request, &e))?;
            }
            DialogueStep::Expect(pattern) => {
                *stage = Stage::Reply;
                let re = next_re.next().expect("one regex per Expect step");
                let mut last = String::new();
                loop {
                    let mut line = Vec::new();
                    let n = (&mut r)
                        .take(8192)
                        .read_until(b'\n', &mut line)
                        .await
                        .map_err(|e| failure(Stage::Reply, &e))?;
                    if n == 0 {
                        return Err(Failure::BadReply(format!(
                            "no reply line matches {pattern:?} (last {last:?})"
                        )));
                    }
                    if re.is_match(&line) {
                        break;
                    }
                    last = String::from_utf8_lossy(&line).trim_end().to_string();
                    if !d.skip_unmatched {
                        return Err(Failure::BadReply(format!(
                            "{last:?} does not match {pattern:?}"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}
