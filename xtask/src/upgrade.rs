//! `cargo xtask setup-upgrade-tests | verify-upgrade-tests | cleanup-upgrade-tests`.

#[derive(clap::Args)]
pub struct SetupArgs {}
#[derive(clap::Args)]
pub struct VerifyArgs {}
#[derive(clap::Args)]
pub struct CleanupArgs {}

pub fn setup(_args: SetupArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
pub fn verify(_args: VerifyArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
pub fn cleanup(_args: CleanupArgs) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
