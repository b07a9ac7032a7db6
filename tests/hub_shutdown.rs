//! SIGTERM ends the hub in bounded time whatever the others do: a basis in flight to a store that
//! is down, a broker that goes away while the hub runs, and one that is not there when the hub
//! starts. Before, the hub waited forever in the last two cases and for its delivery give-up in
//! the first (an operator's `systemctl stop` hung; docs/hub.md "Operating it"). Nothing is lost
//! by stopping then: what was not acknowledged comes again and is finished from the log.

mod common;

use std::time::Duration;

use common::exchange::{basis, publish, write, Exchange, Hub};
use common::{TestBroker, ORG_HALLAND, ORG_STOCKHOLM};

/// How long an operator may wait for a stop (systemd's default stop timeout is 90 s; the hub
/// must be well inside it).
const STOP_WITHIN: Duration = Duration::from_secs(30);

#[test]
fn sigterm_stops_the_hub_while_the_broker_is_down_and_when_it_never_came() {
    let broker = TestBroker::start("hub-shutdown");
    let mut x = Exchange::start(&broker, "sigterm", &[]);
    assert!(
        x.hub
            .wait_for_log(0, "hub consuming", Duration::from_secs(60)),
        "the hub did not start:\n{}",
        x.hub.log()
    );

    // A basis for Halland while Halland's store is down: the hub retries the delivery (its
    // give-up is 60 s here) when it is told to stop.
    x.halland.kill();
    let batch = x.work.join("batch");
    write(&batch, &basis(ORG_STOCKHOLM, ORG_HALLAND, 1));
    publish(&x.stockholm_cfg, &batch);
    assert!(
        x.hub
            .wait_for_log(0, "store unavailable", Duration::from_secs(30)),
        "the hub did not try the store that is down:\n{}",
        x.hub.log()
    );
    assert_stops(&mut x.hub, "with a delivery retrying");
    assert!(
        x.hub.log().contains("stopping with bases unfinished"),
        "{}",
        x.hub.log()
    );
    let since = x.hub.log().len();
    x.hub.start();
    assert!(
        x.hub
            .wait_for_log(since, "hub consuming", Duration::from_secs(60)),
        "the hub did not start again:\n{}",
        x.hub.log()
    );

    let since = x.hub.log().len();
    broker.stop();
    assert!(
        x.hub
            .wait_for_log(since, "consumer lost", Duration::from_secs(20)),
        "the hub did not notice the broker go:\n{}",
        x.hub.log()
    );
    assert_stops(&mut x.hub, "with the broker gone");

    // Started with no broker at all: it keeps trying to connect until told to stop.
    x.hub.start();
    #[expect(
        clippy::disallowed_methods,
        reason = "the test's own thread waits; no async runtime runs on it"
    )]
    std::thread::sleep(Duration::from_secs(3));
    assert_stops(&mut x.hub, "before the broker was ever reached");
}

fn assert_stops(hub: &mut Hub, when: &str) {
    let status = hub.terminate_within(STOP_WITHIN);
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM {when}: {status:?} within {STOP_WITHIN:?}\n{}",
        hub.log()
    );
}
