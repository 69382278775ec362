//! `cargo xtask verify-upgrade-tests`: probe each scenario's mount again
//! after the upgrade, read the writer's log, and compare with the setup
//! record: one ✅/❌ line per check and a verdict, non-zero on any ❌.

use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::continuity::{self, Record};
use super::settings::{self, Settings};
use super::{Ctx, probe, tools};
use crate::prereq;
use crate::process::Runner;

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 when every check is ✅ (or ➖ not applicable); \
1 when a check is ❌ or a step failed; 2 for a bad flag or UPGRADE_TEST_* value."
)]
pub(crate) struct Args {
    #[command(flatten)]
    settings: Settings,
    /// The longest pause between two timestamps that still counts as
    /// uninterrupted I/O, e.g. 1s or 500ms.
    #[arg(long, env = "UPGRADE_TEST_MAX_GAP", default_value = "1s", value_parser = settings::parse_max_gap)]
    max_gap: Duration,
}

pub(crate) fn run(args: Args) -> Result<()> {
    let s = &args.settings;
    prereq::check(&tools(s), s.dry_run)?;
    let scenarios = s.scenarios()?;
    let mut befores = Vec::new();
    for &scenario in &scenarios {
        let path = s.record_dir().join(format!("{}.json", scenario.name()));
        if s.dry_run {
            println!(
                "(dry run: would compare with the setup record {})",
                path.display()
            );
            befores.push(None);
            continue;
        }
        if !path.exists() {
            bail!(
                "no setup record for the {} scenario at {}: run `cargo xtask setup-upgrade-tests` \
                 first, with the same UPGRADE_TEST_NAMESPACE ({}) and UPGRADE_TEST_TYPE",
                scenario.name(),
                path.display(),
                s.namespace
            );
        }
        befores.push(Some(Record::load(&path)?));
    }
    let runner = Runner::new(s.dry_run);
    let ctx = Ctx { s, runner: &runner };
    let mut failed = Vec::new();
    for (&scenario, before) in scenarios.iter().zip(befores) {
        let pod = scenario.object_name();
        let after = probe(&ctx, scenario, true)?;
        let cat = ctx.exec(&pod, &["cat".to_owned(), continuity::LOG_FILE.to_owned()]);
        let log = runner.query_ok(&cat)?;
        let (Some(before), Some(after), Some(log)) = (before, after, log) else {
            continue;
        };
        let verdict = continuity::analyze(&before, &after, &log, args.max_gap);
        println!("\n{} scenario ({}):", scenario.name(), s.driver.dir());
        println!("{}", verdict.text);
        let report = s
            .record_dir()
            .join(format!("{}.verify.txt", scenario.name()));
        std::fs::write(&report, format!("{}\n", verdict.text))
            .with_context(|| format!("writing {}", report.display()))?;
        after.save(
            &s.record_dir()
                .join(format!("{}.after.json", scenario.name())),
        )?;
        if !verdict.passed {
            failed.push(scenario.name());
        }
    }
    if !failed.is_empty() {
        bail!(
            "mount continuity NOT verified for the {} scenario(s): see the ❌ lines above",
            failed.join(", ")
        );
    }
    Ok(())
}
