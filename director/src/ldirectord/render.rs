//! The resolved model printed one fact per line (golden files, operators).

use std::fmt::Write;

use super::model::*;

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("-".to_string(), |v| v.to_string())
}

fn optq(v: &Option<String>) -> String {
    v.as_ref().map_or("-".to_string(), |v| format!("{v:?}"))
}

fn fallback(f: &Option<Fallback>) -> String {
    match f {
        None => "-".into(),
        Some(f) => format!("{} port={} {}", f.addr, opt(&f.port), f.forward.name()),
    }
}

fn status(s: AlertStatus) -> String {
    let mut v = Vec::new();
    for (on, n) in [
        (s.starting, "starting"),
        (s.running, "running"),
        (s.stopping, "stopping"),
        (s.reloading, "reloading"),
    ] {
        if on {
            v.push(n);
        }
    }
    if v.is_empty() {
        "none".into()
    } else {
        v.join(",")
    }
}

/// The model, one fact per line.
pub fn render(c: &Config) -> String {
    let mut o = String::new();
    let g = &c.global;
    let _ = writeln!(
        o,
        "global checktimeout={} negotiatetimeout={} checkinterval={} checkcount={} failurecount={}",
        opt(&g.check_timeout),
        opt(&g.negotiate_timeout),
        g.check_interval,
        g.check_count,
        g.failure_count
    );
    let _ = writeln!(
        o,
        "global autoreload={} quiescent={} readdquiescent={} cleanstop={} fork={} supervised={}",
        g.autoreload, g.quiescent, g.readd_quiescent, g.clean_stop, g.fork, g.supervised
    );
    let _ = writeln!(
        o,
        "global log={:?} callback={} maintenancedir={} execute={:?}",
        g.log,
        optq(&g.callback),
        opt(&g.maintenance_dir.as_ref().map(|p| p.display().to_string())),
        g.execute
    );
    let _ = writeln!(
        o,
        "global fallback={} fallback6={} fallbackcommand={}",
        fallback(&g.fallback),
        fallback(&g.fallback6),
        optq(&g.fallback_command)
    );
    let _ = writeln!(
        o,
        "global emailalert={} emailalertfreq={} emailalertstatus={} emailalertfrom={} smtp={}",
        optq(&g.email_alert),
        g.email_alert_freq,
        status(g.email_alert_status),
        optq(&g.email_alert_from),
        optq(&g.smtp)
    );
    for v in &c.virtuals {
        let s = &v.service;
        let _ = writeln!(
            o,
            "virtual {} {:?} line={} family={:?}",
            s.key, v.protocol, v.line, v.family
        );
        let _ = writeln!(
            o,
            "  service sched={} flags={:#x} persistent={} timeout={} netmask={:?} schedflags={}",
            s.scheduler,
            s.flags.0,
            s.is_persistent(),
            s.timeout,
            s.netmask,
            opt(&v.sched_flags)
        );
        let _ = writeln!(
            o,
            "  checktype={:?} service={} checkport={} checkcommand={:?} request={:?} receive={}",
            v.check_type,
            v.service_type.name(),
            opt(&v.check_port),
            v.check_command,
            v.request,
            optq(&v.receive)
        );
        let _ = writeln!(
            o,
            "  httpmethod={:?} virtualhost={} login={:?} passwd={:?} database={:?} secret={:?}",
            v.http_method,
            optq(&v.virtual_host),
            v.login,
            v.passwd,
            v.database,
            v.secret
        );
        let _ = writeln!(
            o,
            "  checktimeout={}s negotiatetimeout={}s checkinterval={} checkcount={} failurecount={}",
            v.check_timeout.as_secs(),
            v.negotiate_timeout.as_secs(),
            v.check_interval,
            v.check_count,
            v.failure_count
        );
        let _ = writeln!(
            o,
            "  fallback={} fallbackcommand={} quiescent={} cleanstop={}",
            fallback(&v.fallback),
            optq(&v.fallback_command),
            v.quiescent,
            v.clean_stop
        );
        let _ = writeln!(
            o,
            "  emailalert={} emailalertfreq={} emailalertstatus={} smtp={} monitorfile={} servicename={} comment={}",
            optq(&v.email_alert),
            v.email_alert_freq,
            status(v.email_alert_status),
            optq(&v.smtp),
            opt(&v.monitor_file.as_ref().map(|p| p.display().to_string())),
            optq(&v.service_name),
            optq(&v.comment)
        );
        for r in &v.reals {
            let d = &r.destination;
            let _ = writeln!(
                o,
                "  real {}:{} {} weight={} lower={} upper={} configured_port={} line={}",
                d.addr,
                d.port,
                r.forward.name(),
                d.weight,
                d.lower_threshold,
                d.upper_threshold,
                r.configured_port,
                r.line
            );
            if r.own.request.is_some() || r.own.receive.is_some() {
                let _ = writeln!(
                    o,
                    "    own request={} receive={}",
                    optq(&r.own.request),
                    optq(&r.own.receive)
                );
            }
            let _ = writeln!(o, "    check {:?}", r.check);
            match r.check.engine_check(v) {
                Ok(super::EngineCheck::Probe(s)) => {
                    let _ = writeln!(
                        o,
                        "    engine {} target={} timeout={:?} every={:?} fall={}",
                        s.kind.name(),
                        s.target,
                        s.timing.connect_timeout,
                        s.timing.delay_loop,
                        s.timing.fall()
                    );
                }
                Ok(e) => {
                    let _ = writeln!(o, "    engine {e:?}");
                }
                Err(why) => {
                    let _ = writeln!(o, "    engine cannot: {why}");
                }
            }
        }
    }
    o
}
