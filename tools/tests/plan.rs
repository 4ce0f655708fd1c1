//! Plans on the in-memory kernel: for thousands of random pairs of tables,
//! applying `plan(desired, actual)` change by change to a kernel that holds
//! `actual` succeeds at every step (the order is one the kernel accepts),
//! leaves exactly `desired`, and a second plan is empty. Every change also
//! prints as an `ipvsadm` line that ipvsadm's own parser reads back as the
//! same change (what `lvsctl apply --dry-run` shows).

mod cli_support;
#[path = "../../tests/rng/mod.rs"]
mod rng;
#[path = "../../tests/tables/mod.rs"]
mod tables;

use cli_support::Model;
use ipvs::plan::{is_canonical_order, order_sensitive, plan, Table};
use ipvs::{Change, ForwardMethod, ServiceKey};
use ipvs_tools::ipvsadm::request::{Parser, Request};
use ipvs_tools::lvsctl::{ipvsadm_line, parse_rules};
use rng::Rng;
use tables::{table, variation};

fn load(model: &mut Model, t: &Table) {
    for s in t.services() {
        model.apply(&Change::AddService(s.service.clone())).unwrap();
        for d in &s.destinations {
            model
                .apply(&Change::AddDestination(s.service.key, d.clone()))
                .unwrap();
        }
    }
}

fn read(model: &Model) -> Table {
    let mut t = Table::new();
    for (s, ds) in &model.table {
        t.add_service(s.config.clone()).unwrap();
        for d in ds {
            t.add_destination(&s.config.key, d.config.clone()).unwrap();
        }
    }
    t
}

/// What ipvsadm's parser makes of one `lvsctl --dry-run` line.
fn reparse(line: &[u8]) -> Change {
    let text = std::str::from_utf8(line).unwrap();
    let mut argv = vec!["ipvsadm".to_string()];
    argv.extend(text.split_whitespace().map(str::to_string));
    let parser = Parser {
        resolver: &ipvs_tools::ipvsadm::sys::SystemResolver,
        posix_me_harder: false,
    };
    match parser
        .parse(&argv)
        .unwrap_or_else(|e| panic!("{text}: {e:?}"))
    {
        Request::AddService(s) => Change::AddService(s),
        Request::EditService(s) => Change::EditService(s),
        Request::DeleteService(k) => Change::DeleteService(k),
        Request::AddServer(k, d) => Change::AddDestination(k, d),
        Request::EditServer(k, d) => Change::EditDestination(k, d),
        Request::DeleteServer(k, d) => Change::DeleteDestination(k, d),
        other => panic!("{text}: {other:?}"),
    }
}

fn same_change(printed: &Change, planned: &Change) -> bool {
    match (printed, planned) {
        // A delete names only the real server's address and port.
        (Change::DeleteDestination(k1, d1), Change::DeleteDestination(k2, d2)) => {
            k1 == k2 && (d1.addr, d1.port) == (d2.addr, d2.port)
        }
        _ => printed == planned,
    }
}

#[test]
fn applying_a_plan_turns_actual_into_desired() {
    let mut r = Rng(0x5eed_1a0b);
    let mut changes_seen = 0usize;
    let mut reordered = 0usize;
    for round in 0..3000 {
        let actual = table(&mut r);
        let desired = if r.chance(10) {
            actual.clone()
        } else {
            variation(&mut r, &actual)
        };
        let mut model = Model::default();
        load(&mut model, &actual);
        // What a snapshot gives: the kernel's order, newest real server first.
        let actual = read(&model);
        let p = plan(&desired, &actual);
        for c in p.changes() {
            model
                .apply(c)
                .unwrap_or_else(|e| panic!("round {round}: {c}: {e}\nplan:\n{p}"));
            let printed = reparse(&ipvsadm_line(c));
            assert!(
                same_change(&printed, c),
                "round {round}: {c} printed as {printed:?}"
            );
        }
        changes_seen += p.len();
        let now = read(&model);
        assert_eq!(now, desired, "round {round}\nplan:\n{p}");
        assert!(
            plan(&desired, &now).is_empty(),
            "round {round}: second plan not empty\nfirst:\n{p}\nsecond:\n{}",
            plan(&desired, &now)
        );
        if desired == actual {
            // The same table: nothing to do, unless a service whose scheduler
            // depends on the kernel's order (mh, sh, dh) has its real servers
            // in another order than the canonical one: then it is rebuilt,
            // with deletes and adds of the same real servers only.
            let canonical = actual
                .services()
                .iter()
                .all(|s| !order_sensitive(&s.service.scheduler) || is_canonical_order(s));
            if canonical {
                assert!(p.is_empty(), "round {round}\n{p}");
            } else {
                assert!(!p.is_empty(), "round {round}");
                assert!(
                    p.changes().iter().all(|c| matches!(
                        c,
                        Change::DeleteDestination(..) | Change::AddDestination(..)
                    )),
                    "round {round}\n{p}"
                );
                reordered += 1;
            }
        }
    }
    // Not vacuous: the random pairs made many changes of every kind.
    assert!(changes_seen > 10_000, "{changes_seen}");
    assert!(reordered > 10, "{reordered}");
}

#[test]
fn rules_files_report_every_bad_line_and_build_the_table() {
    let text = b"# saved\n-A -t 192.0.2.1:80 -s wrr\n-a -t 192.0.2.1:80 -r 198.51.100.2:80 -g -w 3\n\n\
-a -t 192.0.2.9:80 -r 198.51.100.2:80 -g\n-A -t 192.0.2.1:80 -s rr\n-D -t 192.0.2.1:80\n-A -t nonsense\n";
    let errs = parse_rules(text, &Parser::default()).unwrap_err();
    let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
    assert_eq!(lines, [5, 6, 7, 8], "{errs:?}");
    assert!(errs[0].message.contains("not defined"), "{}", errs[0]);
    assert!(errs[1].message.contains("defined twice"), "{}", errs[1]);
    assert!(errs[2].message.contains("only -A and -a"), "{}", errs[2]);

    let good = &text[..text.iter().position(|&b| b == b'\n').unwrap()];
    assert!(parse_rules(good, &Parser::default()).unwrap().is_empty());
    let t = parse_rules(&text[..81], &Parser::default()).unwrap();
    let k: ServiceKey = "tcp:192.0.2.1:80".parse().unwrap();
    let s = t.service(&k).unwrap();
    assert_eq!(s.service.scheduler, "wrr");
    assert_eq!(s.destinations[0].weight, 3);
    assert_eq!(s.destinations[0].forward, ForwardMethod::DirectRoute);
}
