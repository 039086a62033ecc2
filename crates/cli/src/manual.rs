//! `pushdetect completions SHELL` and `pushdetect man`: shell completions and manual pages
//! made from the same clap definitions as `--help`, so they cannot drift from it; the
//! Debian package installs both.

use anyhow::{Context, Result};
use clap::CommandFactory;
use std::path::PathBuf;

/// Arguments of `pushdetect completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Arguments of `pushdetect man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write one page per command (pushdetect.1, pushdetect-serve.1, …) into this
    /// directory instead of printing pushdetect(1).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Prints the completion script (made in memory first: the generator cannot report a
/// closed pipe, only panic on it).
pub fn completions(args: CompletionsArgs) -> Result<()> {
    let mut cmd = crate::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "pushdetect", &mut script);
    std::io::Write::write_all(&mut std::io::stdout(), &script)?;
    Ok(())
}

/// Prints pushdetect(1), or writes every page into `--dir`.
pub fn man(args: ManArgs) -> Result<()> {
    let cmd = crate::Cli::command();
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write the pages into {}", dir.display()))
        }
        None => Ok(clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?),
    }
}
