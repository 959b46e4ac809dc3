//! `threatmark completions SHELL` and `threatmark man`: shell completions and roff man pages
//! generated from the clap definition itself, so they can never disagree with the flags. Release
//! archives ship both (.github/scripts/package.sh runs these commands on the built binary).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::CommandFactory;

use crate::{exit, output};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    $ threatmark completions bash > ~/.local/share/bash-completion/completions/threatmark\n  \
    $ threatmark completions zsh > ~/.zfunc/_threatmark\n  \
    $ threatmark completions fish > ~/.config/fish/completions/threatmark.fish")]
pub struct CompletionsArgs {
    /// The shell to write the completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    $ threatmark man | man -l -\n  \
    $ threatmark man -o /usr/local/share/man/man1")]
pub struct ManArgs {
    /// Write one page per subcommand (threatmark.1, threatmark-scan.1, ...) into this folder
    /// instead of printing threatmark(1) to stdout.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// The completion script for `args.shell`, on stdout.
pub(super) fn completions(args: CompletionsArgs) -> anyhow::Result<u8> {
    let mut cmd = super::Cli::command();
    // Generated into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "threatmark", &mut script);
    super::to_stdout(&script)?;
    Ok(exit::OK)
}

/// threatmark(1) on stdout, or every page into `-o DIR`.
pub(super) fn man(args: ManArgs) -> anyhow::Result<u8> {
    // Built once, without the `help` subcommand: it has no page, so no page may refer to one.
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    match args.output {
        None => super::to_stdout(&page(cmd)?)?,
        Some(dir) => {
            // Refused before the folder is made, not only per page.
            output::refuse_git_dir(&dir).with_context(|| format!("writing {}", dir.display()))?;
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            write_pages(&cmd, &dir)?;
        }
    }
    Ok(exit::OK)
}

/// One page per visible command, named as git names its pages (`threatmark-import-threatspec.1`):
/// a built command's display name is already `threatmark-import-threatspec`.
fn write_pages(cmd: &clap::Command, dir: &Path) -> anyhow::Result<()> {
    let name = cmd.get_display_name().unwrap_or_else(|| cmd.get_name());
    let path = dir.join(format!("{name}.1"));
    output::write_atomic(&path, &page(cmd.clone())?)
        .with_context(|| format!("writing {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub, dir)?;
    }
    Ok(())
}

fn page(cmd: clap::Command) -> anyhow::Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut roff)
        .context("rendering the man page")?;
    Ok(roff)
}
