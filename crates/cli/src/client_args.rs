//! What every client command shares: where the configuration comes from, output style,
//! and one command-line flag per parameter of a PAPI method, generated from the model's
//! parameter tables so flags and the spec cannot drift apart.

use anyhow::Context;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use pushdetect_client::{AnalystClient, ClientConfig, PapiClient};
use pushdetect_model::method::{MethodSpec, ParamSpec};
use pushdetect_model::{EventKind, FormParams};
use std::marker::PhantomData;
use std::path::PathBuf;

/// Configuration and output options of the client commands.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// papi_client.ini to read (default: ./papi_client.ini, then
    /// ~/.config/pushdetect/papi_client.ini; PAPI_* and ANALYSIS_* variables override it).
    #[arg(long, global = true, env = "PUSHDETECT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Section of the file with the PAPI settings.
    #[arg(long, global = true, default_value = "papi", value_name = "NAME")]
    pub section: String,
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Show each HTTP exchange on stderr, secrets masked.
    #[arg(long, global = true)]
    pub verbose: bool,
}

impl ClientArgs {
    /// The configuration: the file, the section, and the environment over both.
    pub fn load(&self) -> anyhow::Result<ClientConfig> {
        let file = self.config.clone().or_else(ClientConfig::default_file);
        Ok(ClientConfig::load(file.as_deref(), &self.section, &|k| {
            std::env::var(k).ok()
        })?)
    }

    /// A PAPI session (not yet logged in).
    pub fn papi(&self, config: &ClientConfig) -> anyhow::Result<PapiClient> {
        Ok(PapiClient::new(config.require_papi()?.clone())?)
    }

    /// An Analyst API session (not yet logged in).
    pub fn analyst(&self, config: &ClientConfig) -> anyhow::Result<AnalystClient> {
        Ok(AnalystClient::new(config.require_analysis()?.clone())?)
    }
}

/// Which method's parameters become flags, and which of them a command fills itself.
pub trait FlagSpec {
    /// The method.
    fn spec() -> &'static MethodSpec;
    /// Parameters not offered as flags.
    fn skip() -> &'static [&'static str] {
        &[]
    }
}

/// push_file_download's network context only: analyse-file fills in the task and file.
pub struct FileContextSpec;
impl FlagSpec for FileContextSpec {
    fn spec() -> &'static MethodSpec {
        EventKind::FileDownload.method()
    }
    fn skip() -> &'static [&'static str] {
        &["task_uuid", "filename"]
    }
}

/// push_mail's parameters; the mail object comes from `--mail-json FILE`.
pub struct MailSpec;
impl FlagSpec for MailSpec {
    fn spec() -> &'static MethodSpec {
        EventKind::Mail.method()
    }
    fn skip() -> &'static [&'static str] {
        &["mail_json_str"]
    }
}

/// The values of a method's flags, as the form the PAPI receives (flag `--src-ip` is
/// parameter `src_ip`; repeated flags are repeated fields).
pub struct MethodFlags<S> {
    /// The parameters given.
    pub params: FormParams,
    spec: PhantomData<S>,
}

impl<S> std::fmt::Debug for MethodFlags<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.params.pairs()).finish()
    }
}

impl<S> Clone for MethodFlags<S> {
    fn clone(&self) -> Self {
        MethodFlags {
            params: self.params.clone(),
            spec: PhantomData,
        }
    }
}

impl<S: FlagSpec> MethodFlags<S> {
    /// Fills the reporter defaults and the configured sensor key (see [`with_defaults`]).
    pub fn with_defaults(self, tool: &str, config: &ClientConfig) -> FormParams {
        with_defaults(self.params, tool, config)
    }
}

/// Fills the reporter defaults (vendor `pushdetect`, the tool `tool`, our version) and the
/// configured sensor key when no network selection was given.
pub fn with_defaults(mut params: FormParams, tool: &str, config: &ClientConfig) -> FormParams {
    let given = |p: &FormParams, n: &str| p.pairs().iter().any(|(k, _)| k == n);
    let defaults = [
        ("vendor_name", "pushdetect"),
        ("tool_name", tool),
        ("tool_version", env!("CARGO_PKG_VERSION")),
    ];
    for (name, value) in defaults {
        if !given(&params, name) {
            params.push(name, value);
        }
    }
    if !given(&params, "key") && !given(&params, "key_id") {
        if let Some(key) = config.papi.as_ref().and_then(|p| p.key.clone()) {
            params.push("key", key);
        }
    }
    params
}

/// The parameters of `spec` offered as flags: all but those in `skip`.
fn flag_params<'a>(
    spec: &'static MethodSpec,
    skip: &'a [&'a str],
) -> impl Iterator<Item = &'static ParamSpec> + 'a {
    spec.params.iter().filter(move |p| !skip.contains(&p.name))
}

/// Adds one flag per parameter of `spec` but those in `skip` (`--src-ip` for `src_ip`,
/// repeatable, documented from the table).
pub fn method_args(mut cmd: Command, spec: &'static MethodSpec, skip: &[&str]) -> Command {
    for p in flag_params(spec, skip) {
        let mut help = p.doc.to_owned();
        if !p.allowed.is_empty() {
            help.push_str(&format!(" [{}]", p.allowed.join(", ")));
        }
        cmd = cmd.arg(
            Arg::new(p.name)
                .long(p.name.replace('_', "-"))
                .value_name(p.name.to_ascii_uppercase())
                .help(help)
                .action(ArgAction::Append)
                .help_heading(format!("{} parameters", spec.name)),
        );
    }
    cmd
}

/// The values of the flags [`method_args`] added, as the form the PAPI receives.
pub fn method_params(m: &ArgMatches, spec: &'static MethodSpec, skip: &[&str]) -> FormParams {
    let mut params = FormParams::default();
    for p in flag_params(spec, skip) {
        for v in m.get_many::<String>(p.name).into_iter().flatten() {
            params.push(p.name, v.clone());
        }
    }
    params
}

impl<S: FlagSpec> FromArgMatches for MethodFlags<S> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(MethodFlags {
            params: method_params(m, S::spec(), S::skip()),
            spec: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<S: FlagSpec> Args for MethodFlags<S> {
    fn augment_args(cmd: Command) -> Command {
        method_args(cmd, S::spec(), S::skip())
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &str) -> anyhow::Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .context("cannot read standard input")?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))
    }
}
