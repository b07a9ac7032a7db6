//! `invoice-hub publish`: not built yet.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`invoice-hub publish` is not built yet")
}
