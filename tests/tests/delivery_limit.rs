//! The delivery limit with real redeliveries: a job whose handler keeps failing on the
//! database goes back to its queue every time, RabbitMQ really delivers it again (counting
//! the deliveries), and after `delivery_limit` of them the job is parked in the dead-letter
//! queue exactly once while its run fails naming that queue and the count. Other work goes on
//! meanwhile and nothing else is lost; replayed once the cause is fixed, the job completes its
//! run.

use docsync::fleet::Roles;
use docsync_e2e::{spawn_adjusted, TestApp};
use docsync_queue::worker::PARKED;
use docsync_sandbox::SandboxConfig;
use reqwest::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

/// A small limit, so that the test sees every delivery in a few seconds.
const LIMIT: u32 = 3;

fn event_details(run: &Value) -> Vec<String> {
    run["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["detail"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// How many times the database refused the statements the trigger named `sequence` guards
/// (a sequence is not rolled back with the statement it refused).
async fn refusals(db: &tokio_postgres::Client, sequence: &str) -> i64 {
    let row = db
        .query_one(
            &format!("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}"),
            &[],
        )
        .await
        .expect("the sequence");
    row.get(0)
}

#[tokio::test]
async fn a_job_that_keeps_failing_is_redelivered_up_to_the_limit_then_parked_once_and_its_run_says_so(
) {
    let app = spawn_adjusted(
        SandboxConfig::default(),
        Roles {
            api: true,
            collector: true,
            publisher: true,
            scheduler: false,
        },
        |s| s.delivery_limit = LIMIT,
    )
    .await;
    let tenants = app.setup_hudu(&[1, 2, 3]).await;
    let (db, conn) = tokio_postgres::connect(&app.settings.database_url, tokio_postgres::NoTls)
        .await
        .expect("the test's database");
    tokio::spawn(conn);
    // The database refuses, every time, to start collecting tenant 0's run and to start
    // publishing tenant 1's: each handler fails on the database, so its message goes back to
    // its queue (a nack with requeue) and the broker delivers it again. Failing the run is
    // let through.
    let (collect_refused, publish_refused) = (&tenants[0].id, &tenants[1].id);
    db.batch_execute(&format!(
        "CREATE SEQUENCE refused_collects;
         CREATE SEQUENCE refused_publishes;
         CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             PERFORM nextval(TG_ARGV[0]::regclass);
             RAISE EXCEPTION 'refused by the test';
         END $$;
         CREATE TRIGGER refuse_collecting BEFORE UPDATE ON push_runs FOR EACH ROW
           WHEN (NEW.tenant_id = '{collect_refused}' AND NEW.state = 'collecting')
           EXECUTE FUNCTION refuse('refused_collects');
         CREATE TRIGGER refuse_publishing BEFORE UPDATE ON push_runs FOR EACH ROW
           WHEN (NEW.tenant_id = '{publish_refused}' AND OLD.state = 'publishing'
                 AND NEW.state = 'publishing')
           EXECUTE FUNCTION refuse('refused_publishes');"
    ))
    .await
    .expect("the refusing triggers");

    let stuck_collect = app.push(&tenants[0]).await;
    let stuck_publish = app.push(&tenants[1]).await;
    let fine = app.push(&tenants[2]).await;
    let broker = app.broker();
    let dead = broker.dead_letter_queue();
    let expected = format!("{PARKED} {dead} after {LIMIT} deliveries");

    for (run_id, sequence) in [
        (&stuck_collect, "refused_collects"),
        (&stuck_publish, "refused_publishes"),
    ] {
        let run = app.wait_for_run(run_id).await;
        assert_eq!(run["state"], "failed", "{run}");
        let error = run["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(&expected), "{error}");
        assert!(
            event_details(&run).iter().any(|d| d.starts_with(&expected)),
            "the run's history says where its job went: {run}"
        );
        // The handler ran once per delivery up to the limit; the delivery after it parked.
        assert_eq!(
            refusals(&db, sequence).await,
            i64::from(LIMIT),
            "{sequence}: {run}"
        );
    }
    let run = app.wait_for_run(&fine).await;
    assert_eq!(run["state"], "succeeded", "{run}");
    assert_eq!(app.articles_in(TestApp::company_of(&tenants[2])).len(), 1);
    assert!(app.articles_in(TestApp::company_of(&tenants[0])).is_empty());
    assert!(app.articles_in(TestApp::company_of(&tenants[1])).is_empty());

    // Give a stray redelivery the time to show up, then: each parked job exactly once, from
    // the queue it came from, and nothing left in the work queues.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let letters = broker.dead_letters(100).await.expect("dead letters");
    assert_eq!(letters.len(), 2, "{letters:?}");
    let run_of = |body: &str| {
        serde_json::from_str::<Value>(body).expect("a job")["runId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let collect_letter = letters
        .iter()
        .find(|l| run_of(&l.body) == stuck_collect)
        .expect("the collect job is parked");
    assert_eq!(collect_letter.origin, broker.collect_queue());
    assert!(
        collect_letter.reason.starts_with(&expected),
        "{collect_letter:?}"
    );
    let publish_letter = letters
        .iter()
        .find(|l| run_of(&l.body) == stuck_publish)
        .expect("the publish job is parked");
    assert!(
        publish_letter
            .origin
            .starts_with(&format!("{}.publish.", app.settings.queue_prefix)),
        "{publish_letter:?}"
    );
    assert!(
        publish_letter.reason.starts_with(&expected),
        "{publish_letter:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = broker.queue_stats().await.expect("queue stats");
        let waiting: u32 = stats
            .iter()
            .filter(|(name, _, _)| name != "dead")
            .map(|(_, ready, _)| ready)
            .sum();
        if waiting == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "work left behind: {stats:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The account sees both parked jobs with their runs.
    let (_, listed) = app.call(Method::GET, "/dlq", None).await;
    let runs: Vec<&str> = listed["deadLetters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["runId"].as_str())
        .collect();
    assert_eq!(runs.len(), 2, "{listed}");
    assert!(
        runs.contains(&stuck_collect.as_str()) && runs.contains(&stuck_publish.as_str()),
        "{listed}"
    );

    // The cause fixed, a replay reopens both runs and their pushes complete, once each.
    db.batch_execute(
        "DROP TRIGGER refuse_collecting ON push_runs; DROP TRIGGER refuse_publishing ON push_runs;",
    )
    .await
    .expect("the triggers dropped");
    let (status, replayed) = app
        .call(Method::POST, "/dlq/replay", Some(serde_json::json!({})))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 2, "{replayed}");
    for (run_id, tenant) in [(&stuck_collect, &tenants[0]), (&stuck_publish, &tenants[1])] {
        let run = app.wait_for_run(run_id).await;
        assert_eq!(run["state"], "succeeded", "{run}");
        assert!(
            event_details(&run)
                .iter()
                .any(|d| d.contains("replayed from the dead-letter queue")),
            "{run}"
        );
        assert_eq!(app.articles_in(TestApp::company_of(tenant)).len(), 1);
    }
    assert!(broker
        .dead_letters(10)
        .await
        .expect("dead letters")
        .is_empty());
    app.cleanup().await;
}
