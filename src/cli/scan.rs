//! `threatmark scan`: build the model and write it, or print it with `--format json`.
//!
//! `[scan] output` comes from the repository's threatmark.toml, which may be hostile, so it must
//! stay inside the scan root ([`model_path`]); only `-o` on the command line writes elsewhere.
//! Neither may point into a git directory (`output::write_atomic` refuses it).
//!
//! @threat Model written outside the repository (#output_escape) [stride: T; likelihood: possible; impact: major; cwe: 22; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a committed threatmark.toml with `output = "../../.bashrc"`, or an output folder linked out of the repository, makes a scan overwrite a file elsewhere
//! @control Output confined to the scan root (#confined_output): `[scan] output` must stay inside the scan root after resolving links; only `-o` on the command line may write elsewhere, and no output lands in a git directory (`output::refuse_git_dir`)
//! @mitigates #cli against #output_escape with #confined_output
//! @threat Repository files read through links (#linked_reads) [stride: I; likelihood: possible; impact: major; cwe: 59; owner: @threatmark-maintainers; actor: #malicious_contributor]:
//! a committed threatmark.toml, ignore file or template that is a link to ~/.aws/credentials leaks it into logs or a published site
//! @control Configuration, ignore files and templates are not read through links out of the repository (#no_linked_inputs)
//! @mitigates #cli against #linked_reads with #no_linked_inputs

use std::io::{IsTerminal, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context;
use clap::ValueEnum;

use super::RootArgs;
use super::output_format::DiagnosticFormat;
use crate::config::Config;
use crate::diagnostic::Counts;
use crate::scan::finish::Imports;
use crate::{exit, model, output, render, scan};

#[derive(Debug, clap::Args)]
#[command(
    mut_arg("path", |a| a.hide(false).value_name("PATH").help(
        "A file: report only its diagnostics, in the context of its repository (nothing is \
         written). A folder: the same as `-C DIR`"
    )),
    after_help = "Examples:
  $ threatmark scan                          write threatmodel.json for the current repository
  $ threatmark scan -C services/api --strict fail (exit 1) on an error diagnostic
  $ threatmark scan src/auth.rs --output-format concise
                                             one file's diagnostics, one line each"
)]
pub struct ScanArgs {
    #[command(flatten)]
    pub root: RootArgs,
    /// Write the model here instead of `[scan] output` (default threatmodel.json at the root).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Build the model of this git revision from the object database (no checkout). The model
    /// goes to stdout unless `--output` is given.
    #[arg(long, value_name = "REV")]
    pub rev: Option<String>,
    /// `json` prints the model on stdout and writes no file.
    #[arg(long, value_enum)]
    pub format: Option<ScanFormat>,
    /// Worker threads (default: one per core). The output is identical for any value.
    #[arg(long, short = 'j', value_name = "N", value_parser = super::threads)]
    pub threads: Option<usize>,
    /// Exit with code 1 when any error diagnostic was found.
    #[arg(long)]
    pub strict: bool,
    /// Print only diagnostics, no summary and no progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// How diagnostics are printed (on stderr): `full` (source and caret), `concise` (one
    /// line each), `json` (JSON Lines), `github` (workflow commands) or `sarif`.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = DiagnosticFormat::Full)]
    pub output_format: DiagnosticFormat,
    /// Keep running: scan again whenever a file changes (a burst of saves is one scan),
    /// re-printing the diagnostics and summary and rewriting the model. Ctrl-C stops (exit 0).
    #[arg(long, conflicts_with_all = ["rev", "format"])]
    pub watch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    Json,
}

/// Load the configuration and scan, with a progress bar on a terminal. Shared by the commands
/// that need a fresh model.
pub(super) fn scan_root(
    root: &RootArgs,
    threads: Option<usize>,
    quiet: bool,
) -> anyhow::Result<(Config, scan::ScanResult)> {
    let (config, recalled) = scan_root_recalling(root, threads, quiet, NO_RECALL)?;
    match recalled {
        Recalled::Scanned { result, .. } => Ok((config, *result)),
        Recalled::Remembered { memo, .. } => match memo {},
    }
}

/// [`scan_root`], which with `recall` may answer with the last scan's memo (see
/// [`scan_folder_recalling`]).
fn scan_root_recalling<M>(
    root: &RootArgs,
    threads: Option<usize>,
    quiet: bool,
    recall: Option<&Recall<'_, M>>,
) -> anyhow::Result<(Config, Recalled<M>)> {
    let threads = threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1)
    });
    let progress = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} scanning: {pos} files {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    let tick = || {
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    };
    let scanned = scan_folder_recalling(
        root.dir(),
        root.config.as_deref(),
        threads,
        &tick,
        Imports::Merge,
        recall,
    )?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(scanned)
}

/// Load the configuration and scan a folder of the work tree, with the scan cache of the last
/// scan of that folder (see `store::scan_cache`), and save the cache for the next one. The
/// result is completed by `scan::finish` (imports, TM049), as the editor servers' workspace
/// completes its own.
pub(super) fn scan_folder(
    root: &Path,
    explicit_config: Option<&Path>,
    threads: usize,
    on_file: &(dyn Fn() + Sync),
    imports: Imports,
) -> anyhow::Result<(Config, scan::ScanResult)> {
    scan_folder_keeping(root, explicit_config, threads, on_file, imports)
        .map(|(config, result, _)| (config, result))
}

/// [`scan_folder`], with the outcome of every file that contributes something, sorted by path.
pub(super) fn scan_folder_keeping(
    root: &Path,
    explicit_config: Option<&Path>,
    threads: usize,
    on_file: &(dyn Fn() + Sync),
    imports: Imports,
) -> anyhow::Result<(
    Config,
    scan::ScanResult,
    Vec<crate::store::snapshot::Stored>,
)> {
    match scan_folder_recalling(root, explicit_config, threads, on_file, imports, NO_RECALL)? {
        (
            config,
            Recalled::Scanned {
                result, outcomes, ..
            },
        ) => Ok((config, *result, outcomes)),
        (_, Recalled::Remembered { memo, .. }) => match memo {},
    }
}

/// What a scan that may be recalled prints and writes, as its memo keeps them, and how a
/// recalled memo is handed back (`M`: see [`NO_RECALL`]).
struct Recall<'a, M> {
    /// How the diagnostics are rendered (see [`rendering`]).
    rendering: &'a str,
    /// Where the model is written under a configuration; `None` to stdout.
    output: &'a dyn Fn(&Config) -> Option<PathBuf>,
    keep: fn(crate::store::memo::Memo) -> M,
}

/// No recall: a scan whose memo type has no values, so that it cannot answer with one.
const NO_RECALL: Option<&Recall<'static, std::convert::Infallible>> = None;

/// What [`scan_folder_recalling`] found.
pub(super) enum Recalled<M> {
    /// The scan's result, with the outcome of every file that contributes something (sorted
    /// by path), and where and under which key its memo is to be stored when it may be.
    Scanned {
        result: Box<scan::ScanResult>,
        outcomes: Vec<crate::store::snapshot::Stored>,
        memo: Option<(PathBuf, [u64; 2])>,
    },
    /// Nothing the last scan's results depend on changed: its memo, with this walk's counters.
    Remembered { memo: M, stats: scan::Stats },
}

/// [`scan_folder_keeping`]; with `recall` (what will be printed and written), a scan whose
/// every file came from the scan cache and whose memo key ([`memo_key`]) is the stored memo's
/// answers with the memo, without decoding the cached outcomes or building the model.
fn scan_folder_recalling<M>(
    root: &Path,
    explicit_config: Option<&Path>,
    threads: usize,
    on_file: &(dyn Fn() + Sync),
    imports: Imports,
    recall: Option<&Recall<'_, M>>,
) -> anyhow::Result<(Config, Recalled<M>)> {
    use crate::store::scan_cache::{self, ScanCache};
    if explicit_config.is_none() {
        scan::finish::refuse_linked_config(root)?;
    }
    let at = scan_cache::location(root);
    let previous = at.as_deref().and_then(scan_cache::load);
    crate::timings::mark("scan cache loaded");
    let reuse = |yaml: &str| previous.as_ref().and_then(|c| c.threatspec(yaml));
    let walk = |config: &Config, cache: Option<&ScanCache>, watch| {
        scan::walk_watching(root, config, threads, on_file, cache, at.is_some(), watch)
            .with_context(|| format!("scanning {}", root.display()))
    };
    // A `threatspec.yaml`'s `mime` paths named like source files are typed by the walk; in the
    // rare case that one is a folder, the configuration is loaded again without that and the
    // scan is run again (the first one's result is dropped).
    let mut defer = true;
    let (config, threatspec, key, mut walked) = loop {
        let (config, threatspec) = Config::load_deferring(root, explicit_config, &reuse, defer)?;
        crate::timings::mark("configuration loaded");
        let key = scan::config_key(&config);
        let previous = previous.as_ref().filter(|p| p.config_key == key);
        let watch = threatspec.as_ref().and_then(|t| t.watch());
        let walked = walk(&config, previous, watch)?;
        let mut threatspec = threatspec;
        if threatspec.as_mut().is_none_or(|t| t.settle(root)) {
            break (config, threatspec, key, walked);
        }
        defer = false;
    };
    let previous = previous.filter(|p| p.config_key == key);
    // The root's own `threatspec.yaml`, when the configuration came from it.
    let loaded = threatspec
        .as_ref()
        .filter(|_| explicit_config.is_none())
        .map(|t| t.text());
    let same_yaml = threatspec.as_ref().is_none_or(|t| t.reused);
    // Every file came from the cache, and no cached file is gone: it is still current.
    // Else it is saved anew, also when the memo answers (a folder listed again, say, changes
    // no outcome but is listed again by every scan until the cache records it).
    let save_cache = |at: &Path, found: scan::ForCache| {
        let unchanged = previous
            .as_ref()
            .is_some_and(|p| same_yaml && found.misses == 0 && p.entries() == found.entries());
        if unchanged {
            scan_cache::touch(at);
        } else {
            let cache = ScanCache::new(key, found.files, found.plain)
                .with_folders(found.folders)
                .with_listings(found.listings);
            let threatspec = threatspec.as_ref().map(|t| t.record(&config));
            // Written while the model is serialised and written: off the critical path.
            scan_cache::save_in_background(at.to_path_buf(), cache, threatspec, found.started);
        }
    };
    // Only what the walk, the configuration and the root's files decide may be recalled: every
    // file from the cache of this configuration (a listing recorded anew changes no outcome),
    // no problem met, no other project's model imported.
    let mut memo = match (&at, recall) {
        (Some(at), Some(_))
            if previous.is_some()
                && same_yaml
                && walked.found.fresh == 0
                && !scan::finish::names_imports(root, &config, loaded) =>
        {
            crate::store::memo::beside(at).zip(memo_key(
                root,
                explicit_config,
                key,
                walked.found.identity(),
            ))
        }
        _ => None,
    };
    let target = recall.and_then(|r| (r.output)(&config));
    // The model file as the memo's scan left it: its bytes are not read, nothing is written.
    let unchanged = |(path, stat): &(String, crate::store::scan_cache::FileStat)| {
        target.as_deref().is_some_and(|target| {
            target.to_str() == Some(path.as_str()) && model_file_stat(target) == Some(*stat)
        })
    };
    if let (Some(at), Some((path, memo_key)), Some(recall)) = (&at, &memo, recall)
        && let Some(remembered) =
            crate::store::memo::load(path, *memo_key, recall.rendering, unchanged)
    {
        crate::timings::mark(match remembered.rendered {
            Some(_) => "memo recalled, with its rendering",
            None => "memo recalled",
        });
        crate::store::memo::touch(path);
        let (found, stats) = walked.into_found_and_stats();
        save_cache(at, found);
        return Ok((
            config,
            Recalled::Remembered {
                memo: (recall.keep)(remembered),
                stats,
            },
        ));
    }
    // Without a cache of this configuration every outcome was made by this walk, so none can be
    // damaged: the cache is written while the model is built on one thread and the other core
    // would idle, not later beside the model's serialisation.
    let early = previous.is_none();
    if let Some(at) = at.as_ref().filter(|_| early) {
        save_cache(at, walked.found.take_entries());
        crate::timings::mark("scan cache saved");
    }
    let (mut result, mut found) = match walked.assemble(root, &config) {
        // A cache record that does not decode: scan again without the cache (and keep no memo:
        // its key is the first walk's).
        Err(scan::ScanError::Cache(damaged)) => {
            eprintln!("threatmark: ignoring the scan cache ({damaged}); it will be rebuilt");
            memo = None;
            walk(&config, None, None)?.assemble(root, &config)
        }
        other => other,
    }
    .with_context(|| format!("scanning {}", root.display()))?;
    let outcomes = std::mem::take(&mut found.outcomes);
    if let Some(at) = at.as_ref().filter(|_| !early) {
        save_cache(at, found);
        crate::timings::mark("scan cache saved");
    }
    scan::finish::finish(root, explicit_config, &config, &mut result, imports, loaded)?;
    Ok((
        config,
        Recalled::Scanned {
            result: Box::new(result),
            outcomes,
            memo,
        },
    ))
}

/// The key of a scan's memo: everything its model, diagnostics and summary counts depend on
/// besides the files the walk vouches for (`identity`, see `ForCache::identity`). That is the
/// build and the resolved configuration (`config_key`: `scan::config_key` holds both), the
/// root as given (the project is named after it) and resolved, the configuration given with
/// `--config`, and the bytes of the root's configuration files (which one is read, and TM049
/// when `threatmark.toml` hides a `threatspec.yaml`). The command-line options that shape
/// only the output (`-o`, `--format`, `--output-format`, `--strict`, `-q`, colours) are
/// applied to the memo's data as to a scan's, and a scan's model never depends on the date
/// (its analysis is computed without one). `None` when a file cannot be read whole: no memo.
fn memo_key(
    root: &Path,
    explicit_config: Option<&Path>,
    config_key: u64,
    identity: [u64; 2],
) -> Option<[u64; 2]> {
    use std::hash::BuildHasher;
    /// A configuration file larger than this is not read again for a key.
    const MAX_CONFIG: u64 = 16 * 1024 * 1024;
    fn put(inputs: &mut Vec<u8>, bytes: &[u8]) {
        inputs.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        inputs.extend_from_slice(bytes);
    }
    fn file(inputs: &mut Vec<u8>, path: &Path) -> Option<()> {
        put(inputs, path.as_os_str().as_encoded_bytes());
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_file() && meta.len() <= MAX_CONFIG => {
                put(inputs, b"file");
                put(inputs, &std::fs::read(path).ok()?);
            }
            Ok(meta) if meta.is_file() => return None,
            _ => put(inputs, b"none"),
        }
        Some(())
    }
    let mut inputs: Vec<u8> = Vec::new();
    put(&mut inputs, crate::BUILD_ID.as_bytes());
    for part in [config_key, identity[0], identity[1]] {
        put(&mut inputs, &part.to_le_bytes());
    }
    put(&mut inputs, root.as_os_str().as_encoded_bytes());
    let real = std::fs::canonicalize(root).ok()?;
    put(&mut inputs, real.as_os_str().as_encoded_bytes());
    match explicit_config {
        Some(config) => file(&mut inputs, config)?,
        None => put(&mut inputs, b"no --config"),
    }
    for name in [
        crate::config::FILE_NAME,
        crate::import::threatspec::CONFIG_FILE,
        crate::import::guardlink::CONFIG_FILE,
    ] {
        file(&mut inputs, &root.join(name))?;
    }
    Some(
        [0x6d65_6d6f_6b65_7931_u64, 0x6d65_6d6f_6b65_7932]
            .map(|seed| foldhash::quality::FixedState::with_seed(seed).hash_one(inputs.as_slice())),
    )
}

pub(super) fn run(args: ScanArgs, color: bool) -> anyhow::Result<u8> {
    let given = args.root.repo.as_deref().or(args.root.path.as_deref());
    if let Some(missing) = given.filter(|p| std::fs::symlink_metadata(p).is_err()) {
        anyhow::bail!(
            "{} does not exist: give the repository to scan (`-C DIR`) or a file in it",
            crate::render::escape::printable(&missing.display().to_string())
        );
    }
    if let Some(file) = args.root.path.as_deref().filter(|p| p.is_file()) {
        if args.watch {
            anyhow::bail!(
                "`--watch` watches a repository, not one file: give the folder (`threatmark scan --watch -C DIR`)"
            );
        }
        return run_file(&args, file, color);
    }
    if args.watch {
        return super::watch::run(&args, color);
    }
    once(&args, color).map(|scanned| {
        // The process ends after this scan: a `threatspec.yaml` that lists every file leaves
        // thousands of include paths in the configuration, not worth freeing one at a time.
        std::mem::forget(scanned.config);
        scanned.code
    })
}

/// What one scan of [`once`] did, for `--watch`.
pub(super) struct Scanned {
    pub(super) code: u8,
    pub(super) config: Config,
    /// The model file written, if any.
    pub(super) written: Option<PathBuf>,
}

/// Scan, write or print the model, print the diagnostics and the summary.
///
/// The thread that renders the diagnostics beside the model's writing is started before the
/// scan and parked until the scan is done: on a machine whose kernel places a new thread on its
/// parent's vCPU (see docs/performance.md, "Issue 20, seventh round"), a thread started when
/// the work is there runs only once the main thread blocks, after the model is written, while
/// one woken from a wait is placed on an idle vCPU.
pub(super) fn once(args: &ScanArgs, color: bool) -> anyhow::Result<Scanned> {
    let root = args.root.dir();
    let shown_as = rendering(args, color);
    // Declared before the threads' scope, so that the parked thread may borrow them.
    let scanned: OnceLock<(Config, Done)> = OnceLock::new();
    let selection = OnceLock::new();
    let next = AtomicUsize::new(0);
    let (wrote, rendered, json) = std::thread::scope(|s| -> anyhow::Result<_> {
        let (start_tx, start_rx) = std::sync::mpsc::channel::<()>();
        let (selected_tx, selected_rx) = std::sync::mpsc::channel::<()>();
        let rendering = (args.threads != Some(1)).then(|| {
            let (scanned, selection, next) = (&scanned, &selection, &next);
            s.spawn(move || {
                // No message: the scan failed, and there is nothing to render.
                if start_rx.recv().is_err() {
                    return Vec::new();
                }
                let Some((config, done)) = scanned.get() else {
                    return Vec::new();
                };
                let selected = selection.get_or_init(|| done.select(config));
                // Dropping the sender tells the writing thread that the selection is made.
                drop(selected_tx);
                match selected {
                    Ok(selected) => render_pieces(args, config, done, selected, next, color),
                    Err(_) => Vec::new(),
                }
            })
        });
        let (config, done) = match &args.rev {
            Some(rev) => {
                let repo = super::revs::Repo::open(root, args.threads, args.root.config.clone());
                let (config, result) = repo
                    .scan_rev(rev)
                    .map_err(|e| explain_unborn(root, rev, e))?;
                repo.save_cache();
                (config, Done::Scanned(Box::new(result), None))
            }
            None => {
                let quiet = args.quiet || args.output_format.is_machine();
                let output = |config: &Config| match args.format {
                    Some(ScanFormat::Json) => None,
                    None => model_file(args, root, config).ok(),
                };
                let recall = Recall {
                    rendering: &shown_as,
                    output: &output,
                    keep: Box::new,
                };
                let recall = (!args.watch).then_some(&recall);
                match scan_root_recalling(&args.root, args.threads, quiet, recall)? {
                    (config, Recalled::Scanned { result, memo, .. }) => {
                        (config, Done::Scanned(result, memo))
                    }
                    (config, Recalled::Remembered { mut memo, stats }) => {
                        // The memo's diagnostics are the selection: set before the rendering
                        // thread looks.
                        let _ = selection.set(Ok(super::selection::Selected {
                            diagnostics: std::mem::take(&mut memo.diagnostics),
                            suppressed: Vec::new(),
                        }));
                        (config, Done::Remembered(memo, stats))
                    }
                }
            }
        };
        let (config, done) = scanned.get_or_init(|| (config, done));
        let to_stdout =
            args.format == Some(ScanFormat::Json) || (args.rev.is_some() && args.output.is_none());
        crate::timings::mark("scanned");
        let Some(rendering) = rendering else {
            let (wrote, json) = write_model(args, root, config, done, to_stdout)?;
            let selected = selection.get_or_init(|| done.select(config));
            let rendered = match selected {
                Ok(selected) => render_pieces(args, config, done, selected, &next, color),
                Err(_) => Vec::new(),
            };
            return Ok((wrote, rendered, json));
        };
        let _ = start_tx.send(());
        // Write the model on this thread while the parked one selects the diagnostics and
        // renders them; once the model is written this thread renders too (see
        // [`render_pieces`]). The model's error comes first, as on one thread.
        let wrote = write_model(args, root, config, done, to_stdout);
        // An error (the sender dropped) is the signal too.
        let _ = selected_rx.recv();
        let mut pieces = match (&wrote, selection.get()) {
            (Ok(_), Some(Ok(selected))) => {
                render_pieces(args, config, done, selected, &next, color)
            }
            _ => Vec::new(),
        };
        let theirs = rendering
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        pieces.extend(theirs);
        let (wrote, json) = wrote?;
        Ok((wrote, pieces, json))
    })?;
    let selected = selection
        .into_inner()
        .unwrap_or_else(|| Err(anyhow::anyhow!("the diagnostics were not selected")))?;
    let Some((config, done)) = scanned.into_inner() else {
        anyhow::bail!("the scan did not finish");
    };
    // A memo recalled with its rendering holds neither the diagnostics to count nor to render.
    let (counts, mut rendered) = match &done {
        Done::Remembered(memo, _) => {
            let [errors, warnings, notes] = memo.severities;
            let counts = Counts {
                errors,
                warnings,
                notes,
            };
            match &memo.rendered {
                Some((_, text)) => (counts, text.clone()),
                None => (counts, joined(rendered)),
            }
        }
        Done::Scanned(..) => (Counts::of(&selected.diagnostics), joined(rendered)),
    };
    let suppressed = match &done {
        Done::Scanned(..) => super::selection::summary_line(&selected.suppressed),
        Done::Remembered(memo, _) => memo.suppressed.clone(),
    };
    let mut stderr = std::io::stderr().lock();
    // A closed stderr must not turn a finished scan into a failure.
    let _ = stderr.write_all(rendered.as_bytes());
    if !args.quiet && !args.output_format.is_machine() {
        if let Some(line) = &suppressed {
            let _ = stderr.write_all(line.as_bytes());
        }
        let shown = wrote.as_ref().map(|p| p.display().to_string());
        let summary = match &done {
            Done::Scanned(result, _) => render::summary::scan_summary(
                &result.model,
                &result.stats,
                counts,
                shown.as_deref(),
            ),
            Done::Remembered(memo, stats) => {
                let [files_matched, files_annotated, binary_skipped, annotations] = memo.counters;
                let stats = scan::Stats {
                    files_matched,
                    files_annotated,
                    binary_skipped,
                    annotations,
                    ..stats.clone()
                };
                render::summary::scan_summary_of(&memo.kinds, &stats, counts, shown.as_deref())
            }
        };
        let _ = stderr.write_all(summary.as_bytes());
    }
    drop(stderr);
    let code = if args.strict && counts.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    };
    if let (Done::Scanned(result, Some((path, key))), Some(json)) = (&done, json) {
        // The next scan of the same state answers from this.
        let stats = &result.stats;
        let memo = crate::store::memo::Memo {
            model: Some(json.into_bytes()),
            written: wrote.as_deref().and_then(settled_file),
            sources: quoted_sources(&selected.diagnostics, &result.sources),
            diagnostics: selected.diagnostics.clone(),
            severities: [counts.errors, counts.warnings, counts.notes],
            rendered: Some((shown_as, std::mem::take(&mut rendered))),
            suppressed,
            kinds: (result.model.counts().into_iter())
                .map(|(kind, n)| (kind.to_string(), n))
                .collect(),
            counters: [
                stats.files_matched,
                stats.files_annotated,
                stats.binary_skipped,
                stats.annotations,
            ],
        };
        let _ = crate::store::memo::save(path, *key, &memo);
        crate::timings::mark("memo saved");
    }
    if !args.watch {
        // The process ends after this scan: freeing the model, the sources and the diagnostics
        // one allocation at a time would only delay the exit (milliseconds on a large model).
        std::mem::forget((done, selected, rendered));
    }
    Ok(Scanned {
        code,
        config,
        written: wrote,
    })
}

/// What `scan` prints and writes from: a scan's result (with where its memo goes, if it may
/// have one), or the last scan's memo with this walk's counters.
enum Done {
    Scanned(Box<scan::ScanResult>, Option<(PathBuf, [u64; 2])>),
    Remembered(Box<crate::store::memo::Memo>, scan::Stats),
}

impl Done {
    /// The texts the diagnostics quote.
    fn sources(&self) -> &std::collections::BTreeMap<String, std::sync::Arc<str>> {
        match self {
            Done::Scanned(result, _) => &result.sources,
            Done::Remembered(memo, _) => &memo.sources,
        }
    }

    /// The diagnostics shown. A memo's are moved into the selection when it is recalled (see
    /// [`once`]), so only a scan's are selected here; asking a memo is an error rather than
    /// an empty selection.
    fn select(&self, config: &Config) -> anyhow::Result<super::selection::Selected> {
        match self {
            Done::Scanned(result, _) => select(config, result),
            Done::Remembered(..) => {
                anyhow::bail!("a recalled scan's diagnostics are selected when it is recalled")
            }
        }
    }
}

/// The model file at `path` as a memo keeps it (see [`scan_folder_recalling`]): its path and
/// stat, if it is a plain file whose times are settled (git's racy rule: a write after this
/// moves its change time, so it cannot match).
fn settled_file(path: &Path) -> Option<(String, crate::store::scan_cache::FileStat)> {
    let stat = model_file_stat(path)?;
    let path = path.to_str()?;
    (stat.settled(std::time::SystemTime::now())).then(|| (path.to_string(), stat))
}

/// The stat of the model file at `path`, if it is a plain file (a link is never trusted).
fn model_file_stat(path: &Path) -> Option<crate::store::scan_cache::FileStat> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    crate::store::scan_cache::FileStat::of(&meta)
}

/// Where `scan` writes the model file: `-o`, else `[scan] output` below the root. `-o` is the
/// user's own choice; `[scan] output` comes from the repository, which may be hostile, so
/// [`model_path`] keeps it inside the root.
fn model_file(args: &ScanArgs, root: &Path, config: &Config) -> anyhow::Result<PathBuf> {
    match &args.output {
        Some(path) => Ok(path.clone()),
        None => model_path(root, &config.scan.output),
    }
}

/// The name under which a memo keeps the diagnostics as rendered: everything the rendering
/// depends on besides the diagnostics, the texts they quote and the configuration (its risk
/// matrix), which the memo's key holds. The memo's header names the build, so the `Debug`
/// spelling of the format may be used.
fn rendering(args: &ScanArgs, color: bool) -> String {
    format!("{:?}, colour {color}", args.output_format)
}

/// The texts of `sources` that `diagnostics` quote: what a memo keeps to render them again.
fn quoted_sources(
    diagnostics: &[crate::diagnostic::Diagnostic],
    sources: &std::collections::BTreeMap<String, std::sync::Arc<str>>,
) -> std::collections::BTreeMap<String, std::sync::Arc<str>> {
    diagnostics
        .iter()
        .filter_map(|d| d.location.as_ref())
        .filter_map(|l| Some((l.path.clone(), std::sync::Arc::clone(sources.get(&l.path)?))))
        .collect()
}

/// `threatmark scan FILE`: the repository the file is in is scanned as a whole (its
/// configuration and ignore files apply, references to elements of other files resolve, paths
/// are relative to its root as in a full scan), and only the diagnostics located in FILE are
/// reported, with those about no file at all (the configuration). Nothing is written: the
/// model of a repository is not the model of one file, and a partial threatmodel.json must
/// not replace the whole one. The repository is the nearest folder above FILE that holds
/// threatmark.toml (or a Threatspec/GuardLink configuration), else the root of its git work
/// tree, else the file's own folder.
fn run_file(args: &ScanArgs, file: &Path, color: bool) -> anyhow::Result<u8> {
    if args.output.is_some() || args.rev.is_some() || args.format.is_some() {
        anyhow::bail!(
            "`threatmark scan FILE` reports one file's diagnostics and writes no model; drop -o/--output, --rev and --format, or scan the repository (`threatmark scan -C DIR`)"
        );
    }
    let real =
        std::fs::canonicalize(file).with_context(|| format!("reading {}", file.display()))?;
    let root = repository_of(&real);
    let rel = real
        .strip_prefix(&root)
        .map(|r| {
            r.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default();
    let root_args = RootArgs {
        repo: Some(root.clone()),
        path: None,
        config: args.root.config.clone(),
    };
    let quiet = args.quiet || args.output_format.is_machine();
    let (config, result) = scan_root(&root_args, args.threads, quiet)?;
    let diagnostics: Vec<_> = select(&config, &result)?
        .diagnostics
        .into_iter()
        .filter(|d| d.location.as_ref().is_none_or(|l| l.path == rel))
        .collect();
    let counts = Counts::of(&diagnostics);
    let rendered =
        args.output_format
            .render(&diagnostics, &[], &result.sources, &config.risk, color);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(rendered.as_bytes());
    if !quiet {
        // A file no language claims is not even read by a scan: say so rather than report a
        // clean file.
        if !scan::is_candidate(&rel, &scan::FileOptions::from_config(&config)) {
            let _ = writeln!(
                stderr,
                "threatmark: {} is not a file threatmark reads (no language for it; see `threatmark languages`, or map it with `[languages] extensions`)",
                crate::render::escape::printable(&rel),
            );
        }
        let _ = writeln!(
            stderr,
            "threatmark: {} in {} (scanned in the context of {})",
            render::summary::diagnostic_counts(counts),
            crate::render::escape::printable(&rel),
            crate::render::escape::printable(&root.display().to_string()),
        );
    }
    Ok(if args.strict && counts.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// Diagnostics rendered in one piece of work: enough to make taking a piece cheap beside
/// rendering it, few enough that the two threads end together.
const DIAGNOSTICS_PER_PIECE: usize = 16;

/// The pieces of both threads, in order.
fn joined(mut pieces: Vec<(usize, String)>) -> String {
    pieces.sort_unstable_by_key(|&(index, _)| index);
    pieces.into_iter().map(|(_, piece)| piece).collect()
}

/// Render the pieces of `selected` that no other thread has taken (`next` counts the pieces
/// taken), each with its index. A format that is one document is one piece.
fn render_pieces(
    args: &ScanArgs,
    config: &Config,
    done: &Done,
    selected: &super::selection::Selected,
    next: &AtomicUsize,
    color: bool,
) -> Vec<(usize, String)> {
    // A memo's stored rendering is printed as it is (see [`once`]).
    if let Done::Remembered(memo, _) = done
        && memo.rendered.is_some()
    {
        return Vec::new();
    }
    take_pieces(
        selected.diagnostics.as_slice(),
        args.output_format.renders_each(),
        next,
        |piece| {
            args.output_format
                .render(piece, &[], done.sources(), &config.risk, color)
        },
    )
}

/// [`render_pieces`]' loop: pieces of [`DIAGNOSTICS_PER_PIECE`] when the format renders each
/// diagnostic alone (`each`), else the whole list as one.
fn take_pieces(
    all: &[crate::diagnostic::Diagnostic],
    each: bool,
    next: &AtomicUsize,
    render: impl Fn(&[crate::diagnostic::Diagnostic]) -> String,
) -> Vec<(usize, String)> {
    let per_piece = match each {
        true => DIAGNOSTICS_PER_PIECE,
        false => all.len().max(1),
    };
    let count = all.len().div_ceil(per_piece).max(1);
    let mut mine = Vec::new();
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        if index >= count {
            return mine;
        }
        let start = (index * per_piece).min(all.len());
        mine.push((
            index,
            render(&all[start..(start + per_piece).min(all.len())]),
        ));
    }
}

/// Serialise the model (a memo's is already) and write it (`-o`, `[scan] output`) or print it:
/// the file written, and the serialised model when it is to be memoised.
fn write_model(
    args: &ScanArgs,
    root: &Path,
    config: &Config,
    done: &Done,
    to_stdout: bool,
) -> anyhow::Result<(Option<PathBuf>, Option<String>)> {
    let serialised = match done {
        Done::Scanned(result, _) => {
            let json = model::to_json(&result.model);
            crate::timings::mark("model serialised");
            Some(json)
        }
        Done::Remembered(..) => None,
    };
    // A memo without its model was recalled for a model file that holds it (see
    // [`scan_folder_recalling`]): that file is left as it is.
    let json: Option<&[u8]> = match (done, &serialised) {
        (_, Some(json)) => Some(json.as_bytes()),
        (Done::Remembered(memo, _), None) => memo.model.as_deref(),
        (Done::Scanned(..), None) => Some(&[]),
    };
    let wrote = match (to_stdout, json) {
        (true, None) => anyhow::bail!("a memo was recalled without the model to print"),
        (true, Some(json)) => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(json)
                .and_then(|()| stdout.flush())
                .context("writing the model to stdout")?;
            None
        }
        (false, json) => {
            let target = model_file(args, root, config)?;
            let written = match (&args.output, json) {
                (_, None) => {
                    crate::timings::mark("model file unchanged");
                    Ok(())
                }
                (Some(_), Some(json)) => output::write_output(&target, json),
                (None, Some(json)) => output::write_atomic(&target, json),
            };
            written.with_context(|| format!("writing {}", target.display()))?;
            Some(target)
        }
    };
    crate::timings::mark("model written");
    let memoised = serialised.filter(|_| matches!(done, Done::Scanned(_, Some(_))));
    Ok((wrote, memoised))
}

/// The scan's diagnostics after `[diagnostics]` and `threatmark: ignore` comments.
pub(super) fn select(
    config: &Config,
    result: &scan::ScanResult,
) -> anyhow::Result<super::selection::Selected> {
    Ok(scan::selection::scan_diagnostics(config, result)?)
}

/// The repository a file belongs to: see [`run_file`].
fn repository_of(file: &Path) -> PathBuf {
    let folders = || file.ancestors().skip(1);
    let configured = folders().find(|dir| {
        [
            crate::config::FILE_NAME,
            crate::import::threatspec::CONFIG_FILE,
            crate::import::guardlink::CONFIG_FILE,
        ]
        .iter()
        .any(|name| dir.join(name).is_file())
    });
    configured
        .or_else(|| folders().find(|dir| dir.join(".git").exists()))
        .or_else(|| file.parent())
        .unwrap_or(file)
        .to_path_buf()
}

/// Where `[scan] output` (from threatmark.toml, so from the repository) puts the model under
/// `root`: a relative path whose `..` never climb above `root` (it is normalised before it is
/// joined), and whose existing folders do not lead out of `root` through a symbolic link.
/// Anything else is refused: a hostile repository must not make `threatmark scan` overwrite
/// `~/.bashrc`. The file itself may be a link: it is replaced, not written through.
pub(super) fn model_path(root: &Path, output: &str) -> anyhow::Result<PathBuf> {
    // The value comes from the repository: shown cleaned, so it cannot drive the terminal.
    let shown = crate::render::escape::printable(output);
    let refuse = |why: &str| {
        anyhow::anyhow!(
            "[scan] output `{shown}` {why}; the model must be written inside the scan root ({}). Pass `-o FILE` to write it elsewhere",
            crate::render::escape::printable(&root.display().to_string())
        )
    };
    let mut rel = PathBuf::new();
    for part in Path::new(output).components() {
        match part {
            Component::Normal(p) => rel.push(p),
            Component::CurDir => {}
            Component::ParentDir => {
                if !rel.pop() {
                    return Err(refuse("leaves the scan root"));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(refuse("is an absolute path"));
            }
        }
    }
    // `\\server\share` is one file name on Unix, but absolute on Windows: refuse it everywhere.
    if output.starts_with(['/', '\\']) {
        return Err(refuse("is an absolute path"));
    }
    if rel.as_os_str().is_empty() {
        return Err(refuse("names no file"));
    }
    let target = root.join(&rel);
    // The deepest folder on the way that exists (a dangling link counts) must be inside the
    // root once links are resolved; folders that do not exist yet are created inside it.
    if let (Ok(root_real), Some(parent)) = (std::fs::canonicalize(root), target.parent()) {
        let existing = parent
            .ancestors()
            .find(|p| std::fs::symlink_metadata(p).is_ok());
        if let Some(existing) = existing {
            match std::fs::canonicalize(existing) {
                Ok(real) if real.starts_with(&root_real) => {}
                Ok(real) => {
                    return Err(refuse(&format!(
                        "leads out of the scan root through a symbolic link (to {})",
                        crate::render::escape::printable(&real.display().to_string())
                    )));
                }
                Err(_) => return Err(refuse("passes through a broken symbolic link")),
            }
        }
    }
    crate::output::refuse_git_dir(&target)
        .map_err(|e| anyhow::anyhow!("[scan] output `{shown}`: {e}"))?;
    Ok(target)
}

/// `--rev` in a repository without commits: git's own message ("the rev-spec is malformed and
/// misses a ref name") does not say what is wrong.
fn explain_unborn(root: &Path, rev: &str, e: anyhow::Error) -> anyhow::Error {
    let unborn = gix::discover(root)
        .ok()
        .and_then(|repo| repo.head().ok().map(|head| head.is_unborn()))
        .unwrap_or(false);
    if unborn {
        e.context(format!(
            "cannot scan revision `{rev}`: the repository has no commits yet; commit first, or scan the work tree (without --rev)"
        ))
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_path_stays_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for ok in [
            "threatmodel.json",
            "./docs/model.json",
            "a/../model.json",
            "new/dir/m.json",
        ] {
            let p = model_path(root, ok).expect(ok);
            assert!(p.starts_with(root), "{ok} -> {}", p.display());
        }
        for bad in [
            "../escape.json",
            "../../escape.json",
            "a/../../x.json",
            "/etc/passwd",
            ".",
            "",
        ] {
            assert!(model_path(root, bad).is_err(), "{bad} was accepted");
        }
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().expect("tempdir");
            std::os::unix::fs::symlink(outside.path(), root.join("out")).expect("symlink");
            assert!(model_path(root, "out/model.json").is_err());
            assert!(model_path(root, "out/new/model.json").is_err());
            std::os::unix::fs::symlink("/nonexistent/threatmark", root.join("dangling"))
                .expect("symlink");
            assert!(model_path(root, "dangling/model.json").is_err());
        }
        let err = model_path(root, "../\u{1b}[2J.json").expect_err("escapes");
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
    }

    /// `write_and_render` renders more than [`DIAGNOSTICS_PER_PIECE`] diagnostics in pieces,
    /// on whichever thread takes each, and joins them in order: for every format (SARIF is one
    /// piece), the joined pieces are the bytes of one rendering of the whole list (snippets
    /// with carets, whole-file and file-less diagnostics, help lines, with and without color).
    #[test]
    fn diagnostics_rendered_in_pieces_join_to_one_rendering() {
        use crate::diagnostic::{Code, Diagnostic, Span};
        use crate::model::Location;
        let text: String = (0..50)
            .map(|i| format!("# @threat T{i} (#t{i})\n"))
            .collect();
        let starts: Vec<usize> = text.match_indices('#').map(|(at, _)| at).collect();
        let sources = std::collections::BTreeMap::from([(
            "svc/main.py".to_string(),
            std::sync::Arc::<str>::from(text.as_str()),
        )]);
        let mut all = Vec::new();
        for i in 0..45u32 {
            let d = Diagnostic::new(Code::UndeclaredReference, format!("diagnostic {i}"));
            all.push(match i % 3 {
                0 => {
                    let start = starts[2 * i as usize];
                    d.at(Location::new("svc/main.py", i + 1, 1))
                        .at_span(Span::new(start, start + 10))
                        .label("here")
                        .help(format!("help {i}"))
                }
                1 => d.in_file("svc/other.py"),
                _ => d,
            });
        }
        let matrix = crate::analysis::RiskMatrix::default();
        let mut formats = 0;
        for format in DiagnosticFormat::value_variants() {
            formats += usize::from(format.renders_each());
            for color in [false, true] {
                let render =
                    |piece: &[Diagnostic]| format.render(piece, &[], &sources, &matrix, color);
                let whole = render(&all);
                // Two takers sharing the counter, as the two threads of `write_and_render`:
                // the second takes every piece left while the first renders its first one.
                let next = AtomicUsize::new(0);
                let theirs = std::cell::RefCell::new(Vec::new());
                let mine = take_pieces(&all, format.renders_each(), &next, |piece| {
                    if theirs.borrow().is_empty() {
                        let taken = take_pieces(&all, format.renders_each(), &next, render);
                        theirs.borrow_mut().extend(taken);
                    }
                    render(piece)
                });
                let mut pieces = theirs.into_inner();
                assert_eq!(pieces.is_empty(), !format.renders_each(), "{format:?}");
                assert_eq!(mine.len(), 1, "{format:?}");
                pieces.extend(mine);
                assert_eq!(joined(pieces), whole, "{format:?}, color {color}");
            }
        }
        assert_eq!(formats, 4, "every format but SARIF renders pieces");
    }
}
