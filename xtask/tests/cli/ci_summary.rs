//! `cargo xtask ci-summary` as the CI summary job runs it: shard reports
//! in `junit-*/junit.xml`, the summary appended to the step summary file,
//! the JUnit files rewritten in place.

use crate::fakes::Fakes;

const SHARD_1: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="2" skipped="0" failures="0" errors="0" time="1.000">
    <testsuite name="kube-harness-suites::suites" tests="2" skipped="0" errors="0" failures="0">
        <testcase name="rollout_paused::holds" classname="kube-harness-suites::suites" time="0.500">
            <system-out>ok</system-out>
            <system-err></system-err>
        </testcase>
        <testcase name="pod_restart::moves_node" classname="kube-harness-suites::suites" time="0.010">
            <system-out>
running 1 test
kube-harness: SKIPPED: pod_restart::moves_node: needs a real kubelet (HARNESS_CLUSTER=existing)
test pod_restart::moves_node ... ok
</system-out>
            <system-err></system-err>
        </testcase>
    </testsuite>
</testsuites>
"#;

const SHARD_2: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="1" skipped="0" failures="1" errors="0" time="2.000">
    <testsuite name="xtask::cli" tests="1" skipped="0" errors="0" failures="1">
        <testcase name="csi::install" classname="xtask::cli" time="2.000">
            <failure message="panicked" type="test failure with exit code 101">thread &apos;csi::install&apos; panicked at xtask/tests/cli/csi.rs:10:5:
expected 3 steps</failure>
            <system-out></system-out>
            <system-err></system-err>
        </testcase>
    </testsuite>
</testsuites>
"#;

#[test]
fn ci_summary_appends_the_merged_summary_and_rewrites_run_time_skips() {
    let f = Fakes::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (shard, text) in [("junit-1", SHARD_1), ("junit-2", SHARD_2)] {
        std::fs::create_dir_all(d.join(shard)).unwrap();
        std::fs::write(d.join(shard).join("junit.xml"), text).unwrap();
    }
    std::fs::create_dir_all(d.join("reports")).unwrap();
    std::fs::write(
        d.join("reports/pod-restart-kind.md"),
        "| phase | took |\n|---|---|\n| terminating | 3.1 s |\n",
    )
    .unwrap();
    std::fs::write(d.join("reports/notes.txt"), "not markdown").unwrap();
    let summary = d.join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let path = |p: &str| d.join(p).display().to_string();
    let (j1, j2, reports, out) = (
        path("junit-1/junit.xml"),
        path("junit-2/junit.xml"),
        path("reports"),
        summary.display().to_string(),
    );
    let run = f.run(
        &[
            "ci-summary",
            "--rewrite",
            "--out",
            &out,
            "--reports",
            &reports,
            &j1,
            &j2,
        ],
        &[],
    );
    run.assert_ok();
    assert!(
        run.stdout.is_empty(),
        "the summary goes to --out: {}",
        run.stdout
    );
    let md = std::fs::read_to_string(&summary).unwrap();
    let expected = format!(
        "earlier step\n\
         ## ❌ Test results\n\n\
         | passed | failed | skipped | time |\n\
         |---:|---:|---:|---:|\n\
         | 1 | 1 | 1 | 3.0 s |\n\n\
         Merged from 2 JUnit reports (time is their sum): `{j1}` (2 tests, 1.0 s), `{j2}` (1 test, 2.0 s).\n\n\
         ### Failed\n\n\
         #### ❌ `xtask::cli csi::install`\n\n\
         ```text\n\
         thread 'csi::install' panicked at xtask/tests/cli/csi.rs:10:5:\n\
         expected 3 steps\n\
         ```\n\n\
         ### Skipped\n\n\
         - `kube-harness-suites::suites pod_restart::moves_node`: needs a real kubelet (HARNESS_CLUSTER=existing)\n\n\
         ## Reports\n\n\
         ### pod-restart-kind.md\n\n\
         | phase | took |\n|---|---|\n| terminating | 3.1 s |\n\n"
    );
    assert_eq!(md, expected);

    let rewritten = std::fs::read_to_string(&j1).unwrap();
    assert!(
        rewritten.contains(
            "time=\"0.010\">\n            <skipped message=\"needs a real kubelet (HARNESS_CLUSTER=existing)\"/>\n            <system-out>"
        ),
        "{rewritten}"
    );
    assert!(rewritten.contains(r#"<testsuites name="nextest-run" tests="2" skipped="1""#));
    assert_eq!(
        std::fs::read_to_string(&j2).unwrap(),
        SHARD_2,
        "nothing to rewrite there"
    );

    // Run again (a re-run job): the skip is now a JUnit one, counted once.
    let run = f.run(&["ci-summary", &j1, &j2], &[]);
    run.assert_ok();
    assert!(
        run.stdout.contains("| 1 | 1 | 1 | 3.0 s |"),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read_to_string(&j1).unwrap(), rewritten);
}

#[test]
fn a_missing_shard_report_is_in_the_summary_and_fails_the_command() {
    let f = Fakes::new();
    let dir = tempfile::tempdir().unwrap();
    let j1 = dir.path().join("junit-1.xml");
    std::fs::write(&j1, SHARD_1).unwrap();
    let j1 = j1.display().to_string();
    // What bash passes when `junit-*/junit.xml` matches nothing.
    let run = f.run(&["ci-summary", &j1, "junit-*/junit.xml"], &[]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.starts_with("## ❌ Test results\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("⚠️ No results from junit-*/junit.xml: cannot read it"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("could not read every JUnit report"),
        "{}",
        run.stderr
    );
}
