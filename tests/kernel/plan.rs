//! Plans on the real kernel: for random pairs of tables, the kernel holding
//! `actual` and given `plan(desired, actual)` ends up holding exactly
//! `desired` (read back with a snapshot, configuration only), every change
//! succeeds, and planning again finds nothing to do.

use ipvs::plan::{plan, Table};
use ipvs::BatchMode;

use crate::rng::Rng;
use crate::tables::{table, variation};
use crate::TestNet;

#[test]
fn applying_a_plan_turns_the_kernel_table_into_the_desired_one() {
    let mut r = Rng(0x1ab_5eed);
    let mut changes = 0;
    let net = TestNet::new();
    let mut ipvs = net.open();
    for round in 0..150 {
        // Each round starts from an empty table.
        ipvs.flush().unwrap();
        let actual = table(&mut r);
        let desired = variation(&mut r, &actual);
        let load = plan(&actual, &Table::new());
        for (c, res) in load.changes().iter().zip(
            ipvs.apply(load.changes(), BatchMode::ContinueOnError)
                .unwrap(),
        ) {
            res.unwrap_or_else(|e| panic!("round {round}: loading {c}: {e}"));
        }
        let read = Table::from_snapshot(&ipvs.snapshot().unwrap());
        assert_eq!(
            read, actual,
            "round {round}: the kernel reads back what was loaded"
        );
        assert!(plan(&actual, &read).is_empty(), "round {round}");

        let p = plan(&desired, &read);
        let results = ipvs.apply(p.changes(), BatchMode::StopOnError).unwrap();
        assert_eq!(results.len(), p.len(), "round {round}: {results:?}\n{p}");
        for (c, res) in p.changes().iter().zip(results) {
            res.unwrap_or_else(|e| panic!("round {round}: {c}: {e}\n{p}"));
        }
        changes += p.len();
        let now = Table::from_snapshot(&ipvs.snapshot().unwrap());
        assert_eq!(now, desired, "round {round}\n{p}");
        assert!(
            plan(&desired, &now).is_empty(),
            "round {round}: second plan"
        );
    }
    assert!(changes > 300, "{changes}");
}
