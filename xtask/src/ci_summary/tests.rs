//! The merge, the summary and the rewrite, on JUnit documents shaped like
//! cargo-nextest's (`testsuites > testsuite > testcase` with `system-out`,
//! `system-err` and `failure`; output escaped as nextest escapes it).

use super::*;

/// Shard 1: a pass, a failure (20 lines of panic), a test skipped at run
/// time (a reason with characters XML escapes).
const SHARD_1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="3" skipped="0" failures="1" errors="0" uuid="b5fb50d5-6283-479f-8986-9f94213363ad" timestamp="2026-11-29T21:12:19.865+00:00" time="2.500">
    <testsuite name="kube-harness-suites::suites" tests="3" skipped="0" errors="0" failures="1">
        <testcase name="rollout_paused::holds" classname="kube-harness-suites::suites" timestamp="2026-11-29T21:12:19.873+00:00" time="0.015">
            <system-out>
running 1 test
test rollout_paused::holds ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out; finished in 0.01s

</system-out>
            <system-err></system-err>
        </testcase>
        <testcase name="pod_restart::moves_node" classname="kube-harness-suites::suites" timestamp="2026-11-29T21:12:19.889+00:00" time="0.008">
            <system-out>
running 1 test
kube-harness: SKIPPED: pod_restart::moves_node: needs a real kubelet &amp; a &quot;node&quot; (HARNESS_CLUSTER=existing)
test pod_restart::moves_node ... ok

test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 3 filtered out; finished in 0.00s

</system-out>
            <system-err></system-err>
        </testcase>
        <testcase name="rollout_stuck::reports_stuck" classname="kube-harness-suites::suites" timestamp="2026-11-29T21:12:19.865+00:00" time="0.127">
            <failure message="thread &apos;rollout_stuck::reports_stuck&apos; (32067) panicked at tests/suites/rollout_stuck.rs:6:77" type="test failure with exit code 101">thread &apos;rollout_stuck::reports_stuck&apos; (32067) panicked at tests/suites/rollout_stuck.rs:6:77:
assertion `left == right` failed: status.phase
  left: &quot;Paused&quot;
 right: &quot;Stuck&quot;
line 5
line 6
line 7
line 8
line 9
line 10
line 11
line 12
line 13
line 14 &lt;i32, i32&gt;
line 15
line 16
line 17
line 18
line 19
line 20</failure>
            <system-out>
running 1 test
test rollout_stuck::reports_stuck ... FAILED
</system-out>
            <system-err>thread &apos;rollout_stuck::reports_stuck&apos; panicked</system-err>
        </testcase>
    </testsuite>
</testsuites>
"#;

/// Shard 2: a pass, a test nextest skipped, a flaky pass, a timeout with
/// no failure text, and a test that printed the skip line but failed.
const SHARD_2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="5" skipped="1" failures="2" errors="0" uuid="c2" timestamp="2026-11-29T21:12:19.865+00:00" time="1.250">
    <testsuite name="xtask::cli" tests="5" skipped="1" errors="0" failures="2">
        <testcase name="cluster::up" classname="xtask::cli" time="0.020">
            <system-out>ok</system-out>
            <system-err></system-err>
        </testcase>
        <testcase name="cluster::needs_docker" classname="xtask::cli" time="0.000">
            <skipped message="needs cluster (kind)"/>
        </testcase>
        <testcase name="csi::retried" classname="xtask::cli" time="0.300">
            <flakyFailure message="first attempt" type="test failure">boom
                <system-out>kube-harness: SKIPPED: not this one: nested output does not count</system-out>
            </flakyFailure>
            <system-out>passed the second time</system-out>
        </testcase>
        <testcase name="upgrade::hangs" classname="xtask::cli" time="60.000">
            <failure type="test timeout"/>
            <system-out></system-out>
            <system-err>still waiting for pod continuity-static</system-err>
        </testcase>
        <testcase name="upgrade::skips_then_fails" classname="xtask::cli" time="0.100">
            <failure message="panicked">panicked after skipping</failure>
            <system-out>kube-harness: SKIPPED: upgrade::skips_then_fails: not really</system-out>
        </testcase>
    </testsuite>
</testsuites>
"#;

fn report(name: &str, text: &str) -> Report {
    let mut r = parse(text).unwrap();
    r.path = PathBuf::from(name);
    r
}

fn outcomes(r: &Report) -> Vec<(&str, &Outcome)> {
    r.cases().map(|c| (c.name.as_str(), &c.outcome)).collect()
}

#[test]
fn reads_what_nextest_writes() {
    let r = report("junit-1/junit.xml", SHARD_1);
    assert_eq!(r.time, Some(2.5));
    assert_eq!(r.suites.len(), 1);
    assert_eq!(r.suites[0].name, "kube-harness-suites::suites");
    let out = outcomes(&r);
    assert_eq!(out[0], ("rollout_paused::holds", &Outcome::Passed));
    assert_eq!(
        out[1],
        (
            "pod_restart::moves_node",
            &Outcome::Skipped {
                reason: r#"needs a real kubelet & a "node" (HARNESS_CLUSTER=existing)"#.into(),
                at_run_time: true,
            }
        )
    );
    let Outcome::Failed { message, output } = out[2].1 else {
        panic!("{:?}", out[2]);
    };
    assert_eq!(
        message,
        "thread 'rollout_stuck::reports_stuck' (32067) panicked at tests/suites/rollout_stuck.rs:6:77"
    );
    assert!(output.contains("  left: \"Paused\"\n"), "{output}");
    assert_eq!(output.lines().count(), 20);
    let failing = r.cases().nth(2).unwrap();
    assert_eq!(
        failing.stderr,
        "thread 'rollout_stuck::reports_stuck' panicked"
    );
    assert!(failing.stdout.contains("... FAILED"));

    let r = report("junit-2/junit.xml", SHARD_2);
    let out = outcomes(&r);
    assert_eq!(
        out[1].1,
        &Outcome::Skipped {
            reason: "needs cluster (kind)".into(),
            at_run_time: false
        }
    );
    assert_eq!(
        out[2].1,
        &Outcome::Passed,
        "nested output is not the test's"
    );
    let retried = r.cases().nth(2).unwrap();
    assert!(retried.flaky);
    assert_eq!(retried.stdout, "passed the second time");
    assert!(
        matches!(out[4].1, Outcome::Failed { .. }),
        "a failure wins over a skip line"
    );
}

#[test]
fn the_summary_merges_the_shards() {
    let reports = [
        report("junit-1/junit.xml", SHARD_1),
        report("junit-2/junit.xml", SHARD_2),
    ];
    let md = summary("Tests", &reports, &[]);
    let expected_head = "## ❌ Tests\n\n\
        | passed | failed | skipped | time |\n\
        |---:|---:|---:|---:|\n\
        | 3 | 3 | 2 | 3.8 s |\n\n\
        Merged from 2 JUnit reports (time is their sum): `junit-1/junit.xml` (3 tests, 2.5 s), \
        `junit-2/junit.xml` (5 tests, 1.2 s).\n\n";
    assert!(md.starts_with(expected_head), "{md}");
    // The first 15 lines of the panic, and how many more there are.
    let failure = "#### ❌ `kube-harness-suites::suites rollout_stuck::reports_stuck`\n\n\
        ```text\n\
        thread 'rollout_stuck::reports_stuck' (32067) panicked at tests/suites/rollout_stuck.rs:6:77:\n\
        assertion `left == right` failed: status.phase\n  left: \"Paused\"\n right: \"Stuck\"\n\
        line 5\nline 6\nline 7\nline 8\nline 9\nline 10\nline 11\nline 12\nline 13\nline 14 <i32, i32>\nline 15\n\
        ```\n\n_5 more lines in the JUnit report._\n";
    assert!(md.contains(failure), "{md}");
    // A timeout has no failure text: its stderr stands in.
    assert!(
        md.contains("#### ❌ `xtask::cli upgrade::hangs`\n\n```text\nstill waiting for pod continuity-static\n```\n"),
        "{md}"
    );
    assert!(
        md.contains(
            "### Skipped\n\n\
             - `kube-harness-suites::suites pod_restart::moves_node`: needs a real kubelet & a \"node\" (HARNESS_CLUSTER=existing)\n\
             - `xtask::cli cluster::needs_docker`: needs cluster (kind)\n\n"
        ),
        "{md}"
    );
    assert!(
        md.contains("### Flaky (passed on a retry)\n\n- `xtask::cli csi::retried`\n"),
        "{md}"
    );
}

#[test]
fn an_all_green_run_and_an_unreadable_report_are_said_plainly() {
    let green = report(
        "junit.xml",
        &SHARD_1
            .replace("<failure", "<x")
            .replace("</failure>", "</x>"),
    );
    let md = summary("Tests", &[green], &[]);
    assert!(md.starts_with("## ✅ Tests\n"), "{md}");
    assert!(!md.contains("### Failed"), "{md}");
    assert!(
        !md.contains("Merged from"),
        "one report needs no merge line: {md}"
    );
    let md = summary("Tests", &[], &["junit-2/junit.xml: cannot read it".into()]);
    assert!(md.starts_with("## ❌ Tests\n"), "{md}");
    assert!(
        md.contains("⚠️ No results from junit-2/junit.xml: cannot read it"),
        "{md}"
    );
}

#[test]
fn failure_output_with_backticks_keeps_its_fence_and_loses_its_colours() {
    assert_eq!(fence_for("no ticks"), "```");
    assert_eq!(fence_for("a ``` b"), "````");
    assert_eq!(
        strip_ansi("\x1b[1m\x1b[31merror\x1b[0m: boom"),
        "error: boom"
    );
}

#[test]
fn rewrite_marks_run_time_skips_and_their_counts_and_nothing_else() {
    let r = report("junit-1/junit.xml", SHARD_1);
    let out = rewrite(SHARD_1, &r).unwrap();
    let expected = SHARD_1
        .replace(
            r#"tests="3" skipped="0" failures="1" errors="0" uuid"#,
            r#"tests="3" skipped="1" failures="1" errors="0" uuid"#,
        )
        .replace(
            r#"tests="3" skipped="0" errors="0" failures="1">"#,
            r#"tests="3" skipped="1" errors="0" failures="1">"#,
        )
        .replace(
            r#"time="0.008">
            <system-out>"#,
            r#"time="0.008">
            <skipped message="needs a real kubelet &amp; a &quot;node&quot; (HARNESS_CLUSTER=existing)"/>
            <system-out>"#,
        );
    assert_eq!(out, expected);
    // What it wrote reads back as the same skip, now a JUnit one, and a
    // second rewrite changes nothing.
    let again = report("junit-1/junit.xml", &out);
    assert_eq!(
        outcomes(&again)[1].1,
        &Outcome::Skipped {
            reason: r#"needs a real kubelet & a "node" (HARNESS_CLUSTER=existing)"#.into(),
            at_run_time: false,
        }
    );
    assert_eq!(again.skips_at_run_time(), 0);
    assert_eq!(summary("T", &[again], &[]), summary("T", &[r], &[]));
}

#[test]
fn the_skip_marker_is_the_harness_one() {
    let skip_rs = crate::paths::repo_root().join("harness/src/skip.rs");
    let text = std::fs::read_to_string(&skip_rs).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (moved? update SKIP_MARKER's note)",
            skip_rs.display()
        )
    });
    assert!(
        text.contains(&format!("pub const SKIP_MARKER: &str = \"{SKIP_MARKER}\";")),
        "harness/src/skip.rs no longer prints {SKIP_MARKER:?}: ci-summary would miss its skips"
    );
    assert_eq!(
        skip_reason("x\nkube-harness: SKIPPED: a::b: needs kind: a real one\n").as_deref(),
        Some("needs kind: a real one")
    );
    assert_eq!(skip_reason("no skip here"), None);
}
